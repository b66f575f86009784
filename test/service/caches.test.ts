import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_SESSION_POLICY } from '../../src/core/session-policy.ts';
import { Authenticator } from '../../src/service/authenticator.ts';
import { KeyAdmin } from '../../src/service/key-admin.ts';
import { KeyDirectory } from '../../src/service/key-directory.ts';
import { PasswordHasher } from '../../src/service/password-hasher.ts';
import { ServerKeyring } from '../../src/service/server-keyring.ts';
import { Sessions } from '../../src/service/sessions.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { AUD, NOW, POLICY, rejectsWith, rsaPair, signJwt } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'keygate-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The real SQLite store, with a count of calls per method, to see what reaches it. */
function counted(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

async function world(options: { singleUse?: boolean } = {}) {
  const path = join(dir, `${randomUUID()}.db`);
  const { store, calls } = counted(new SqliteStore(path));
  const now = { value: NOW };
  const clock = () => now.value;
  const directory = new KeyDirectory(store, { pollMs: 60_000 });
  await directory.start();
  const keyring = new ServerKeyring(store, clock);
  await keyring.start();
  const sessions = new Sessions({
    store,
    hasher: new PasswordHasher(),
    keyring,
    clock,
    policy: POLICY,
    sessionPolicy: DEFAULT_SESSION_POLICY,
  });
  const authenticator = new Authenticator({ store, directory, policy: POLICY, clock, sessions, keyring });
  const admin = new KeyAdmin(store, clock, directory);
  const org = await admin.createOrg('Cache Org', { singleUseTokens: options.singleUse ?? false });
  const pair = rsaPair(2048);
  const key = await admin.registerKey({ orgId: org.id, publicKey: pair.publicPem, grantedByAdmin: false });
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
    close: () => directory.stop().then(() => store.close()),
  };
}

test('a repeated token is answered from the cache without touching the store', async () => {
  const w = await world();
  const token = w.token();
  const first = await w.authenticator.authenticate(token);
  const before = new Map(w.calls);
  for (let i = 0; i < 100; i++) assert.deepEqual(await w.authenticator.authenticate(token), first);
  assert.deepEqual(w.calls, before);
  assert.equal(w.authenticator.cache.size, 1);
  await w.close();
});

test('a cached token still expires on time', async () => {
  const w = await world();
  const token = w.token();
  await w.authenticator.authenticate(token);
  w.now.value = NOW + 600 + POLICY.leewaySeconds;
  await rejectsWith(w.authenticator.authenticate(token), 'token_expired');
  await w.close();
});

test('a flood of unknown kids never reaches the store', async () => {
  const w = await world();
  w.calls.clear();
  for (let i = 0; i < 500; i++)
    await rejectsWith(w.authenticator.authenticate(w.token({ kid: randomUUID() })), 'kid_unknown');
  assert.equal(w.calls.get('getKey') ?? 0, 0);
  assert.equal(w.calls.get('getOrg') ?? 0, 0);
  await w.close();
});

test('revocation through this process drops cached tokens at once', async () => {
  const w = await world();
  const token = w.token();
  await w.authenticator.authenticate(token);
  await w.admin.setKeyStatus(w.kid, 'revoked');
  await rejectsWith(w.authenticator.authenticate(token), 'key_revoked');
  await w.close();
});

test('revocation by another process (the CLI) applies at the next key poll', async () => {
  const w = await world();
  const token = w.token();
  await w.authenticator.authenticate(token);
  const cli = new SqliteStore(w.path);
  await new KeyAdmin(cli, () => NOW).setKeyStatus(w.kid, 'disabled');
  await cli.close();
  await w.directory.refresh();
  await rejectsWith(w.authenticator.authenticate(token), 'key_disabled');
  await w.close();
});

test('a key added by another process is known after the next poll', async () => {
  const w = await world();
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
  await rejectsWith(w.authenticator.authenticate(token), 'kid_unknown');
  await w.directory.refresh();
  assert.equal((await w.authenticator.authenticate(token)).kid, added.key_id);
  await w.close();
});

test('an organization with single-use tokens accepts each token once', async () => {
  const w = await world({ singleUse: true });
  const token = w.token();
  await w.authenticator.authenticate(token);
  await rejectsWith(w.authenticator.authenticate(token), 'jti_reused');
  await w.close();
});

test('the store failing fails authentication closed', async () => {
  const w = await world();
  const token = w.token();
  await w.store.close();
  await assert.rejects(w.authenticator.authenticate(token), { name: 'UnavailableError' });
  await w.directory.stop().catch(() => undefined);
});

test('a key added elsewhere does not evict the cached tokens of other keys', async () => {
  const w = await world();
  const token = w.token();
  await w.authenticator.authenticate(token);
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
  await w.close();
});
