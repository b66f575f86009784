import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthError } from '../../src/service/auth-error.ts';
import { fixture } from '../helpers.ts';

// The signatures of the tokens read in one turn of the event loop are verified together at its
// end, and their jti claims committed together after them: each token must get exactly the answer
// it would get alone.

const outcome = (answer: Promise<unknown>) =>
  answer.then(
    () => 'ok',
    (error: unknown) => (error instanceof AuthError ? error.rejection.code : String(error)),
  );

test('tokens verified together at the turn end get exactly the answers one at a time would', async () => {
  const f = await fixture();
  try {
    const good = Array.from({ length: 30 }, () => f.token());
    const forged = good.slice(0, 10).map((token) => `${token.slice(0, -6)}AAAAAA`);
    const expired = f.token({ iat: f.now.value - 7200, exp: f.now.value - 3600 });
    const elsewhere = f.token({ aud: 'api.elsewhere.example' });
    // The same token twice is one client reusing it; another token under a taken jti is a replay.
    const reused = f.token({ jti: 'shared-jti' });
    const replay = f.token({ jti: 'shared-jti', sub: 'mallory' });
    const tokens = [...good, ...forged, expired, elsewhere, reused, reused, replay];
    // Every call made in this one turn: nothing is verified until it ends.
    const outcomes = await Promise.all(
      tokens.map((token) => outcome(f.keygate.authenticator.authenticate(token))),
    );
    assert.deepEqual(outcomes, [
      ...Array(30).fill('ok'),
      ...Array(10).fill('signature_invalid'),
      'token_expired',
      'aud_mismatch',
      'ok',
      'ok',
      'jti_reused',
    ]);
    // And one at a time, in later turns, the same answers where a token's history allows.
    assert.equal(
      await outcome(f.keygate.authenticator.authenticate(forged[0] as string)),
      'signature_invalid',
    );
    assert.equal(await outcome(f.keygate.authenticator.authenticate(good[0] as string)), 'ok');
    assert.equal(await outcome(f.keygate.authenticator.authenticate(replay)), 'jti_reused');
  } finally {
    await f.close();
  }
});
