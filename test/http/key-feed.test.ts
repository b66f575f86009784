import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERROR_CODES } from '../../src/core/error-codes.ts';
import { buildApp } from '../../src/http/app.ts';
import { KeyAdmin } from '../../src/service/key-admin.ts';
import { startKeygate } from '../../src/service/keygate.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';
import { AUD, ecPair, NOW, POLICY, signJwt } from '../helpers.ts';

const POLL_MS = 20;
const MAX_LAG_MS = 1000;

test('fail closed: a node that cannot read the key change feed refuses its cached tokens with 503 keys_stale past the bound, and serves again once it has caught up', async (t) => {
  const keygate = await startKeygate({
    database: ':memory:',
    policy: POLICY,
    clock: () => NOW,
    pollMs: POLL_MS,
    maxFeedLagMs: MAX_LAG_MS,
  });
  const app = await buildApp(keygate, { loginRateLimit: 1000 });
  t.after(async () => {
    await app.close();
    await keygate.close();
  });
  const org = await keygate.keys.createOrg('Feed Org');
  const register = async () => {
    const pair = ecPair();
    const { key_id } = await keygate.keys.registerKey({
      orgId: org.id,
      publicKey: pair.publicPem,
      grantedByAdmin: true,
    });
    const claims = { aud: AUD, exp: NOW + 600, iat: NOW, iss: org.id, sub: 'alice', kid: key_id };
    return {
      kid: key_id,
      token: signJwt({ alg: 'ES256', typ: 'JWT' }, { ...claims, jti: key_id }, pair.privateKey),
    };
  };
  const kept = await register();
  const revoked = await register();
  const whoami = (token: string) =>
    app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });
  // Each token's second use admits it to the token cache.
  for (const { token } of [kept, revoked, kept, revoked]) assert.equal((await whoami(token)).statusCode, 200);

  const failing = t.mock.method(keygate.store, 'keyChangesSince', async () => {
    throw new StoreUnavailableError('The SQLite store failed: database is locked');
  });
  // What another node does meanwhile: the store changes, this node is not told.
  await new KeyAdmin(keygate.store, () => NOW).setKeyStatus(revoked.kid, 'revoked');
  const failedAt = performance.now();
  // Within the bound the cache still answers (the revocation is at most the bound late)...
  assert.equal((await whoami(kept.token)).statusCode, 200);
  await sleep(MAX_LAG_MS + 4 * POLL_MS);
  assert.ok(performance.now() - failedAt > MAX_LAG_MS);
  // ...past it nothing is served from memory: the revoked key's cached token is refused too.
  for (const { token } of [kept, revoked]) {
    const refused = await whoami(token);
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(refused.headers['retry-after'], '1');
    const { error } = refused.json();
    assert.deepEqual(error, {
      code: 'keys_stale',
      message: ERROR_CODES.keys_stale.message,
      hint: ERROR_CODES.keys_stale.hint,
    });
  }
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json().error.code, 'keys_stale');
  assert.match(
    ready.json().error.message,
    /^Keygate cannot vouch for keys: key changes were last read from the store \d+ ms ago, more than the 1000 ms KEYGATE_KEY_FEED_MAX_LAG_MS allows: the store failed \(unavailable\)\.$/,
  );

  failing.mock.restore();
  const recovered = performance.now();
  while ((await app.inject({ method: 'GET', url: '/readyz' })).statusCode !== 200) {
    assert.ok(performance.now() - recovered < 2000, 'recovers within a few polls');
    await sleep(POLL_MS);
  }
  assert.equal((await whoami(kept.token)).statusCode, 200, 'the same token is accepted again');
  const missed = await whoami(revoked.token);
  assert.equal(missed.statusCode, 401, 'the revocation made while the feed was down applies');
  assert.equal(missed.json().error.code, 'key_revoked');
});
