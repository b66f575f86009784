import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext, test } from 'node:test';
import { KeyAdmin } from '../../src/service/key-admin.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';
import { AUD, b64, NOW, POLICY, rejectsWith, rsaPair, signJwt } from '../helpers.ts';
import { counted } from '../store/counted-store.ts';
import { services } from './services.ts';

const dir = mkdtempSync(join(tmpdir(), 'keygate-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A fresh store, clock and services for one test, closed after it even when an assertion fails:
 * a test may move `now` or break the store without reaching the next one.
 */
async function world(t: TestContext, options: { singleUse?: boolean } = {}) {
  const path = join(dir, `${randomUUID()}.db`);
  const { store, calls } = counted(new SqliteStore(path));
  const now = { value: NOW };
  const clock = () => now.value;
  const { directory, authenticator, admin } = await services(store, clock, 60_000);
  const org = await admin.createOrg('Cache Org', { singleUseTokens: options.singleUse ?? false });
  const pair = rsaPair(2048);
  const key = await admin.registerKey({ orgId: org.id, publicKey: pair.publicPem, grantedByAdmin: false });
  t.after(() => directory.stop().then(() => store.close()));
  const token = (claims: Record<string, unknown> = {}) =>
    signJwt(
      { alg: 'RS256', typ: 'JWT' },
      {
        aud: AUD,
        exp: now.value + 600,
        iat: now.value,
        iss: org.id,
        jti: randomUUID(),
        sub: 's',
        kid: key.key_id,
        ...claims,
      },
      pair.privateKey,
    );
  /** A token sent twice, the second time admitting it to the cache (TokenCache). */
  const cachedToken = async () => {
    const issued = token();
    const sizeBefore = authenticator.cache.size;
    await authenticator.authenticate(issued);
    await authenticator.authenticate(issued);
    assert.equal(authenticator.cache.size, sizeBefore + 1, 'the second use admits the token');
    return issued;
  };
  return {
    path,
    store,
    calls,
    now,
    directory,
    authenticator,
    admin,
    kid: key.key_id,
    token,
    cachedToken,
  };
}

test('a repeated token is answered from the cache without touching the store', async (t) => {
  const w = await world(t);
  const token = w.token();
  const first = await w.authenticator.authenticate(token);
  assert.equal(w.authenticator.cache.size, 0, 'a token used once is not kept');
  assert.deepEqual(await w.authenticator.authenticate(token), first);
  const before = new Map(w.calls);
  for (let i = 0; i < 100; i++) assert.deepEqual(await w.authenticator.authenticate(token), first);
  assert.deepEqual(w.calls, before);
  assert.equal(w.authenticator.cache.size, 1);
});

test('a flood of tokens each sent once leaves the cache to the tokens clients reuse', async (t) => {
  const w = await world(t);
  const reused = await w.cachedToken();
  const once = Array.from({ length: 200 }, () => w.token());
  for (const token of once) await w.authenticator.authenticate(token);
  assert.equal(w.authenticator.cache.size, 1, 'no single-use token took a place');
  w.calls.clear();
  await w.authenticator.authenticate(reused);
  assert.deepEqual([...w.calls.keys()], [], 'the reused token is still answered from the cache');
});

test('a cached token still expires on time', async (t) => {
  const w = await world(t);
  const token = await w.cachedToken();
  w.now.value = NOW + 600 + POLICY.leewaySeconds;
  await rejectsWith(w.authenticator.authenticate(token), 'token_expired');
});

test('a flood of made-up kids costs the store nothing per request', async (t) => {
  const w = await world(t);
  // Signed before the flood, so that the flood is as fast as an attacker's.
  const junk = Array.from({ length: 200 }, (_, i) => w.token({ kid: `made-up-${i}` }));
  const repeated = w.token({ kid: randomUUID() });
  const fresh = Array.from({ length: 1000 }, () => w.token({ kid: randomUUID() }));
  w.calls.clear();
  for (const token of junk) await rejectsWith(w.authenticator.authenticate(token), 'kid_unknown');
  assert.deepEqual([...w.calls.keys()], [], 'a kid the store could never have issued is never asked about');
  await Promise.all(
    Array.from({ length: 100 }, () => rejectsWith(w.authenticator.authenticate(repeated), 'kid_unknown')),
  );
  for (let i = 0; i < 100; i++) await rejectsWith(w.authenticator.authenticate(repeated), 'kid_unknown');
  assert.ok((w.calls.get('getKey') ?? 0) <= 1, 'one made-up kid, asked 200 times, is read at most once');
  w.calls.clear();
  for (const token of fresh) await rejectsWith(w.authenticator.authenticate(token), 'kid_unknown');
  // Past the budget a kid the filter never saw is refused without a read: 401, never a 5xx.
  const reads = w.calls.get('getKey') ?? 0;
  assert.ok(reads * 10 <= fresh.length, `${reads} store reads for ${fresh.length} made-up kids`);
  assert.equal(w.calls.get('getOrg') ?? 0, 0);
});

test('tokens that fail their header or alg check never spend the store budget for new kids', async (t) => {
  const w = await world(t);
  const header = (i: number) =>
    i % 2 === 0 ? { alg: 'HS256' } : { alg: 'RS256', jku: 'https://attacker.example' };
  const junk = Array.from({ length: 300 }, (_, i) =>
    w.token({ kid: randomUUID() }).replace(/^[^.]+/, b64(header(i))),
  );
  w.calls.clear();
  for (const [i, token] of junk.entries()) {
    await rejectsWith(
      w.authenticator.authenticate(token),
      i % 2 === 0 ? 'alg_not_allowed' : 'token_malformed',
    );
  }
  assert.deepEqual([...w.calls.keys()], []);
});

test('revocation through this process drops cached tokens at once', async (t) => {
  const w = await world(t);
  const token = await w.cachedToken();
  await w.admin.setKeyStatus(w.kid, 'revoked');
  await rejectsWith(w.authenticator.authenticate(token), 'key_revoked');
});

test('revocation by another process (the CLI) applies at the next key poll', async (t) => {
  const w = await world(t);
  const token = await w.cachedToken();
  const cli = new SqliteStore(w.path);
  await new KeyAdmin(cli, () => NOW).setKeyStatus(w.kid, 'disabled');
  await cli.close();
  await w.directory.refresh();
  await rejectsWith(w.authenticator.authenticate(token), 'key_disabled');
});

test('a key added by another process is accepted by the very next request, before any poll', async (t) => {
  const w = await world(t);
  const cli = new SqliteStore(w.path);
  const pair = rsaPair(2048);
  const [org] = await cli.listOrgs();
  const added = await new KeyAdmin(cli, () => NOW).registerKey({
    orgId: org?.id as string,
    publicKey: pair.publicPem,
    grantedByAdmin: true,
  });
  await cli.close();
  const token = signJwt(
    { alg: 'RS256' },
    { aud: AUD, exp: NOW + 60, iat: NOW, iss: org?.id, jti: 'j', sub: 's', kid: added.key_id },
    pair.privateKey,
  );
  assert.equal((await w.authenticator.authenticate(token)).kid, added.key_id);
});

test('an organization with single-use tokens accepts each token once', async (t) => {
  const w = await world(t, { singleUse: true });
  const token = w.token();
  await w.authenticator.authenticate(token);
  await rejectsWith(w.authenticator.authenticate(token), 'jti_reused');
});

test('the store failing fails authentication closed', async (t) => {
  const w = await world(t);
  const token = w.token();
  await w.store.close();
  // The store names its own failure; the authenticator lets it through, and no principal comes out.
  await assert.rejects(w.authenticator.authenticate(token), StoreUnavailableError);
  await w.directory.stop().catch(() => undefined);
});

test('a key added elsewhere does not evict the cached tokens of other keys', async (t) => {
  const w = await world(t);
  const token = await w.cachedToken();
  const cli = new SqliteStore(w.path);
  const [org] = await cli.listOrgs();
  await new KeyAdmin(cli, () => NOW).registerKey({
    orgId: org?.id as string,
    publicKey: rsaPair(2048).publicPem,
    grantedByAdmin: true,
  });
  await cli.close();
  await w.directory.refresh();
  w.calls.clear();
  await w.authenticator.authenticate(token);
  assert.deepEqual([...w.calls.keys()], [], 'answered from the caches alone');
});
