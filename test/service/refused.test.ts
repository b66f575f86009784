import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { AuthError, Refused } from '../../src/service/auth-error.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { AUD, ecPair, NOW, signJwt } from '../helpers.ts';
import { services } from './services.ts';

// A refusal that memory alone decides is returned as a Refused, a plain value that is not an
// Error (no Error is built per bad token); a caller that awaits gets the same refusal thrown as
// an AuthError.

async function world(t: TestContext) {
  const store = new SqliteStore(':memory:');
  const { directory, authenticator, admin } = await services(store, () => NOW, 600_000);
  t.after(() => directory.stop().then(() => store.close()));
  const org = await admin.createOrg('Refused Org');
  const pair = ecPair();
  const key = await admin.registerKey({ orgId: org.id, publicKey: pair.publicPem, grantedByAdmin: true });
  const token = (header: Record<string, unknown>, kid: string) =>
    signJwt(
      { typ: 'JWT', ...header },
      { aud: AUD, exp: NOW + 600, iat: NOW, iss: org.id, jti: randomUUID(), sub: 's', role: 'user', kid },
      pair.privateKey,
    );
  return { authenticator, kid: key.key_id, token };
}

function refusedAtOnce(answer: unknown, code: string, kid: string | undefined): Refused {
  assert.ok(answer instanceof Refused, `not refused at once: ${String(answer)}`);
  assert.ok(!((answer as unknown) instanceof Error), 'a refusal decided at once builds no Error');
  assert.equal(answer.rejection.code, code, answer.rejection.message);
  assert.equal(answer.kid, kid);
  return answer;
}

test('refusals decided from memory are Refused values, thrown as AuthErrors to callers that await', async (t) => {
  const w = await world(t);
  // Its first token reads the new key from the store; from then on the key is in memory.
  assert.equal((await w.authenticator.authenticate(w.token({ alg: 'ES256' }, w.kid))).kid, w.kid);
  const cases = [
    { input: 'not-a-token', code: 'token_malformed', kid: undefined },
    // A kid in no issued form needs no store read (a made-up UUID may cost one, within a budget).
    { input: w.token({ alg: 'ES256' }, 'made-up-kid'), code: 'kid_unknown', kid: undefined },
    // The key is known, so its usage counts the refusal: the Refused carries its kid.
    { input: w.token({ alg: 'RS256' }, w.kid), code: 'alg_not_allowed', kid: w.kid },
  ];
  for (const { input, code, kid } of cases) {
    const refused = refusedAtOnce(w.authenticator.authenticateSoon(input), code, kid);
    refusedAtOnce(w.authenticator.verifyTokenSoon(input), code, kid);
    await assert.rejects(w.authenticator.authenticate(input), (error: unknown) => {
      assert.ok(error instanceof AuthError, String(error));
      assert.deepEqual(error.rejection, refused.rejection);
      assert.equal(error.kid, kid);
      return true;
    });
  }
});

test('Refused.error() is the same refusal as an AuthError', () => {
  const rejection = { code: 'kid_unknown', message: 'No key.', hint: 'Check the kid.' } as const;
  const error = new Refused(rejection, 'k1').error();
  assert.ok(error instanceof AuthError);
  assert.equal(error.rejection, rejection);
  assert.equal(error.kid, 'k1');
  assert.equal(error.message, 'No key.');
});
