import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { usageByKey } from '../../src/core/key-usage.ts';
import { Refused } from '../../src/service/auth-error.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';
import { AUD, ecPair, NOW, rejectsWith, signJwt, type TestPair } from '../helpers.ts';
import { counted } from '../store/counted-store.ts';
import { services } from './services.ts';

// Per-key usage: what the authenticator counts for a kid that named a stored key, that nothing is
// counted for a kid the store lacks, and that counts reach the store only in batches.

async function world(t: TestContext) {
  const raw = new SqliteStore(':memory:');
  const { store, calls } = counted(raw);
  const now = { value: NOW };
  const clock = () => now.value;
  // No poll within a test: flushes happen only when the test asks.
  const { directory, authenticator, admin } = await services(store, clock, 600_000);
  const org = await admin.createOrg('Usage Org');
  const pair = ecPair();
  const key = await admin.registerKey({ orgId: org.id, publicKey: pair.publicPem, grantedByAdmin: true });
  t.after(() => directory.stop().then(() => raw.close()));
  const token = (claims: Record<string, unknown> = {}, signer: TestPair = pair) =>
    signJwt(
      { alg: 'ES256', typ: 'JWT' },
      {
        aud: AUD,
        exp: now.value + 600,
        iat: now.value,
        iss: org.id,
        jti: randomUUID(),
        sub: 's',
        role: 'user',
        kid: key.key_id,
        ...claims,
      },
      signer.privateKey,
    );
  const usage = async () => usageByKey(await raw.keyUsage([key.key_id])).get(key.key_id);
  return { raw, calls, now, directory, authenticator, admin, kid: key.key_id, token, usage };
}

test('a token counts as accepted on each verification and on every cache hit, with no promise', async (t) => {
  const w = await world(t);
  const token = w.token();
  // Verified in full on its first use and on its second, which admits it to the token cache.
  for (let use = 0; use < 2; use++) assert.equal((await w.authenticator.authenticate(token)).kid, w.kid);
  for (let i = 0; i < 3; i++) {
    const answer = w.authenticator.authenticateSoon(token);
    assert.ok(!(answer instanceof Promise) && !(answer instanceof Refused), 'a cache hit answers at once');
    assert.equal(answer.kid, w.kid);
  }
  assert.equal(w.directory.sizes.usage, 1);
  assert.equal(w.calls.get('recordKeyUse') ?? 0, 0, 'nothing written per request');
  await w.directory.flushUsage();
  assert.deepEqual(await w.usage(), { accepted: 5, refused: {} });
  assert.equal((await w.raw.getKey(w.kid))?.lastUsedAt, NOW);
  assert.equal(w.directory.sizes.usage, 0);
});

test('refusals of a stored key are counted by reason code', async (t) => {
  const w = await world(t);
  const stranger = ecPair();
  await rejectsWith(w.authenticator.authenticate(w.token({}, stranger)), 'signature_invalid');
  await rejectsWith(w.authenticator.authenticate(w.token({}, stranger)), 'signature_invalid');
  await rejectsWith(
    w.authenticator.authenticate(w.token({ iat: NOW - 1200, exp: NOW - 600 })),
    'token_expired',
  );
  await rejectsWith(w.authenticator.authenticate(w.token({ role: 'admin' })), 'role_not_permitted');
  // A second token with a jti the first one holds.
  await w.authenticator.authenticate(w.token({ jti: 'once' }));
  await rejectsWith(w.authenticator.authenticate(w.token({ jti: 'once', sub: 'other' })), 'jti_reused');
  await w.directory.flushUsage();
  assert.deepEqual(await w.usage(), {
    accepted: 1,
    refused: { jti_reused: 1, role_not_permitted: 1, signature_invalid: 2, token_expired: 1 },
  });
});

test('a cached token of a key revoked since counts as key_revoked', async (t) => {
  const w = await world(t);
  const token = w.token();
  // Its second use admits it to the token cache.
  await w.authenticator.authenticate(token);
  await w.authenticator.authenticate(token);
  assert.equal(w.authenticator.cache.size, 1);
  await w.admin.setKeyStatus(w.kid, 'revoked');
  await rejectsWith(w.authenticator.authenticate(token), 'key_revoked');
  await w.directory.flushUsage();
  assert.deepEqual(await w.usage(), { accepted: 2, refused: { key_revoked: 1 } });
});

test('nothing is counted for a kid the store does not hold, nor for a token without a kid', async (t) => {
  const w = await world(t);
  for (let i = 0; i < 20; i++)
    await rejectsWith(w.authenticator.authenticate(w.token({ kid: randomUUID() })), 'kid_unknown');
  await rejectsWith(w.authenticator.authenticate(w.token({ kid: undefined })), 'kid_missing');
  await rejectsWith(w.authenticator.authenticate('not.a.token'), 'token_malformed');
  assert.equal(w.directory.sizes.usage, 0);
  await w.directory.flushUsage();
  assert.equal(w.calls.get('recordKeyUse') ?? 0, 0, 'an empty flush writes nothing');
  assert.deepEqual(await w.raw.keyUsage([w.kid]), []);
});

test('/auth/hello does not count: it is a debugger, not a use of the key', async (t) => {
  const w = await world(t);
  const report = await w.authenticator.explain(w.token());
  assert.equal(report.valid, true);
  await w.authenticator.explain(w.token({ role: 'admin' }));
  assert.equal(w.directory.sizes.usage, 0);
});

test('many requests are one store write per flush, and a batch the store refuses joins the next', async (t) => {
  const w = await world(t);
  const tokens = Array.from({ length: 5 }, () => w.token());
  for (let round = 0; round < 10; round++)
    for (const token of tokens) await w.authenticator.authenticate(token);
  await rejectsWith(w.authenticator.authenticate(w.token({ role: 'admin' })), 'role_not_permitted');
  await w.directory.flushUsage();
  assert.equal(w.calls.get('recordKeyUse'), 1);
  assert.deepEqual(await w.usage(), { accepted: 50, refused: { role_not_permitted: 1 } });

  for (const token of tokens) await w.authenticator.authenticate(token);
  const recordKeyUse = w.raw.recordKeyUse;
  w.raw.recordKeyUse = () => Promise.reject(new StoreUnavailableError('disk full'));
  await assert.rejects(w.directory.flushUsage(), StoreUnavailableError);
  w.raw.recordKeyUse = recordKeyUse;
  assert.deepEqual(await w.usage(), { accepted: 50, refused: { role_not_permitted: 1 } });
  await w.authenticator.authenticate(tokens[0] as string);
  await w.directory.flushUsage();
  assert.deepEqual(await w.usage(), { accepted: 56, refused: { role_not_permitted: 1 } });
});
