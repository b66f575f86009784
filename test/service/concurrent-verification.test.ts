import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthError } from '../../src/service/auth-error.ts';
import { fixture } from '../helpers.ts';

// With other tokens in hand, the authenticator verifies signatures on libuv's thread pool and
// commits jti claims in batches: answers must be exactly those of one token at a time.

test('tokens verified together (signatures off the loop) get exactly the answers one at a time would', async () => {
  // The pool is used only while a core is idle: here, always.
  const f = await fixture({ spareCores: { available: true } });
  try {
    const good = Array.from({ length: 40 }, () => f.token());
    const forged = good.slice(0, 20).map((token) => `${token.slice(0, -6)}AAAAAA`);
    const outcomes = await Promise.all(
      [...good, ...forged].map((token) =>
        f.keygate.authenticator.authenticate(token).then(
          () => 'ok',
          (error: unknown) => (error instanceof AuthError ? error.rejection.code : String(error)),
        ),
      ),
    );
    assert.deepEqual(outcomes, [...Array(40).fill('ok'), ...Array(20).fill('signature_invalid')]);
  } finally {
    await f.close();
  }
});
