import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { after, describe, type TestContext, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { readSessionSecret } from '../../src/config.ts';
import { DEFAULT_SESSION_POLICY } from '../../src/core/session-policy.ts';
import { SESSION_TYP } from '../../src/core/session-token.ts';
import { buildApp } from '../../src/http/app.ts';
import { KeySeal, SessionSecretError } from '../../src/service/key-seal.ts';
import { type Keygate, startKeygate } from '../../src/service/keygate.ts';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.ts';
import { NOW, POLICY, rejectsWith } from '../helpers.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keygate-identity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASS_HASH = sha256('correct horse battery staple');
/** The cheapest argon2id: these tests are about sessions, not hashing. */
const CHEAP = { memoryKiB: 64, passes: 1, parallelism: 1 };

/** Runs one statement on the database file from a second connection, as another process would. */
function sql(path: string, text: string, ...params: SQLInputValue[]): Record<string, unknown>[] {
  const db = new DatabaseSync(path);
  try {
    const statement = db.prepare(text);
    if (!/^\s*select/i.test(text)) {
      statement.run(...params);
      return [];
    }
    return statement.all(...params).map((row) => ({ ...row }));
  } finally {
    db.close();
  }
}

interface World {
  keygate: Keygate;
  app: FastifyInstance;
  path: string;
  secret: Buffer;
  now: { value: number };
  orgId: string;
  login(user: string): Promise<string>;
  whoami(token: string): Promise<{ statusCode: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** A Keygate on a database file, with a frozen clock and one organization; closed after the test. */
async function world(t: TestContext, options: { path?: string; secret?: Buffer } = {}): Promise<World> {
  const path = options.path ?? join(dir, `${randomUUID()}.db`);
  const secret = options.secret ?? randomBytes(32);
  const now = { value: NOW };
  const keygate = await startKeygate({
    database: path,
    policy: POLICY,
    clock: () => now.value,
    secret,
    argon2: CHEAP,
  });
  const app = await buildApp(keygate, { loginRateLimit: 1000 });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    await keygate.close();
  };
  t.after(close);
  const orgId = (await keygate.keys.createOrg('Identity Org')).id;
  return {
    keygate,
    app,
    path,
    secret,
    now,
    orgId,
    close,
    async login(user) {
      const response = await app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ user, pass_hash: PASS_HASH }),
      });
      assert.equal(response.statusCode, 202, response.body);
      return response.json().results.token.HY_APP_AUTH_v1;
    },
    async whoami(token) {
      const response = await app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: token },
      });
      const body = response.json();
      return { statusCode: response.statusCode, body: body.results ?? body.error };
    },
  };
}

const part = (token: string, index: 0 | 1) =>
  JSON.parse(Buffer.from(token.split('.')[index] as string, 'base64url').toString()) as Record<
    string,
    unknown
  >;

describe('a session acts as its user in the store, not as its token says', () => {
  test('a token signed with the session key but claiming another role, organization or user is refused', async (t) => {
    const w = await world(t);
    const other = await w.keygate.keys.createOrg('Other Org');
    const ali = await w.keygate.users.create({
      orgId: w.orgId,
      email: 'ali@example.com',
      passHash: PASS_HASH,
    });
    const bob = await w.keygate.users.create({
      orgId: w.orgId,
      email: 'bob@example.com',
      passHash: PASS_HASH,
    });
    const token = await w.login('ali@example.com');
    const claims = part(token, 1);
    // What a holder of a copied session key can sign: anything, for a session that exists.
    const forge = (overrides: Record<string, unknown>) =>
      w.keygate.keyring.sign({ alg: 'ES256', typ: SESSION_TYP }, { ...claims, ...overrides });
    assert.deepEqual((await w.whoami(forge({}))).body, {
      org_id: w.orgId,
      sub: ali.id,
      role: 'user',
      kid: part(token, 0).kid,
      method: 'session',
      expires_at: new Date((NOW + DEFAULT_SESSION_POLICY.absoluteSeconds) * 1000)
        .toISOString()
        .replace('.000Z', 'Z'),
    });
    for (const [overrides, claim] of [
      [{ role: 'admin' }, 'role'],
      [{ org_id: other.id }, 'org_id'],
      [{ org_id: other.id, role: 'admin' }, 'role'],
      [{ sub: bob.id }, 'sub'],
    ] as const) {
      const forged = forge(overrides);
      const answer = await w.whoami(forged);
      assert.equal(answer.statusCode, 401, JSON.stringify(overrides));
      assert.deepEqual(answer.body, {
        code: 'session_revoked',
        message: `The token's ${claim} is not the one Keygate issued for this session; it was not issued by a login.`,
        hint: 'Log in again to get a new session token.',
      });
      const report = await w.keygate.authenticator.explain(forged);
      assert.equal(report.code, 'session_revoked');
      assert.equal(report.principal, undefined);
    }
  });

  test("a disabled user's session is refused, even when its session row was left live", async (t) => {
    const w = await world(t);
    const user = await w.keygate.users.create({
      orgId: w.orgId,
      email: 'off@example.com',
      passHash: PASS_HASH,
    });
    const token = await w.login('off@example.com');
    assert.equal((await w.whoami(token)).statusCode, 200);
    sql(w.path, "UPDATE users SET status = 'disabled' WHERE id = ?", user.id);
    assert.deepEqual(await w.whoami(token), {
      statusCode: 401,
      body: {
        code: 'session_revoked',
        message: 'The account of this session is disabled.',
        hint: 'Log in again to get a new session token.',
      },
    });
    await rejectsWith(w.keygate.authenticator.authenticate(token), 'session_revoked');
  });

  test("the principal's role follows a role change in the store", async (t) => {
    const w = await world(t);
    const user = await w.keygate.users.create({
      orgId: w.orgId,
      email: 'role@example.com',
      passHash: PASS_HASH,
    });
    const token = await w.login('role@example.com');
    assert.equal((await w.whoami(token)).body.role, 'user');
    for (const role of ['admin', 'device', 'user'] as const) {
      sql(w.path, 'UPDATE users SET role = ? WHERE id = ?', role, user.id);
      assert.equal((await w.whoami(token)).body.role, role);
      const report = await w.keygate.authenticator.explain(token);
      assert.equal(report.principal?.role, role);
      assert.equal(
        report.checks.find((c) => c.name === 'session')?.message,
        role === 'user'
          ? 'The session is live.'
          : `The session is live; it acts with the account's current role, ${role}.`,
      );
    }
    assert.equal(part(token, 1).role, 'user', 'the token itself still says what was issued');
  });
});

describe('session signing keys', () => {
  test('a retired key verifies until the last session it signed has ended, then it is deleted', async (t) => {
    const w = await world(t);
    await w.keygate.users.create({ orgId: w.orgId, email: 'old@example.com', passHash: PASS_HASH });
    const token = await w.login('old@example.com');
    const oldKid = String(part(token, 0).kid);
    w.now.value = NOW + 100;
    const newKid = await w.keygate.keyring.rotate();
    assert.deepEqual(
      sql(w.path, 'SELECT id, status, sealed_private_key, retired_at FROM server_keys ORDER BY created_at'),
      [
        { id: oldKid, status: 'retired', sealed_private_key: null, retired_at: NOW + 100 },
        {
          id: newKid,
          status: 'active',
          sealed_private_key: sql(
            w.path,
            'SELECT sealed_private_key FROM server_keys WHERE id = ?',
            newKid,
          )[0]?.sealed_private_key,
          retired_at: null,
        },
      ],
      'nothing signs with a retired key, so its private half is gone at once',
    );
    assert.equal((await w.whoami(token)).statusCode, 200);
    const windowEnd = NOW + 100 + DEFAULT_SESSION_POLICY.absoluteSeconds;
    w.now.value = windowEnd - 1;
    assert.ok(w.keygate.keyring.verifier(oldKid), 'within the window the old key verifies');
    w.now.value = windowEnd;
    assert.equal(w.keygate.keyring.verifier(oldKid), undefined);
    assert.deepEqual(
      w.keygate.keyring.jwks().keys.map((k) => k.kid),
      [newKid],
    );
    await rejectsWith(w.keygate.authenticator.authenticate(token), 'kid_unknown');
    await w.keygate.keyring.refresh();
    assert.deepEqual(
      sql(w.path, 'SELECT id FROM server_keys').map((row) => row.id),
      [newKid],
      'the retired key is deleted from the store',
    );
  });

  test('the key at rest is sealed, and a database opened with another secret refuses to start', async (t) => {
    const path = join(dir, `${randomUUID()}.db`);
    const secret = randomBytes(32);
    const first = await world(t, { path, secret });
    await first.keygate.users.create({ orgId: first.orgId, email: 'rest@example.com', passHash: PASS_HASH });
    const token = await first.login('rest@example.com');
    await first.close();
    const [row] = sql(path, 'SELECT id, sealed_private_key FROM server_keys');
    const stored = String(row?.sealed_private_key);
    assert.match(stored, /^v1\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
    assert.doesNotMatch(stored, /PRIVATE KEY|BEGIN/);
    assert.throws(() => createPrivateKey(stored));
    assert.throws(() =>
      createPrivateKey({ key: Buffer.from(stored, 'base64url'), format: 'der', type: 'pkcs8' }),
    );

    await assert.rejects(
      startKeygate({ database: path, policy: POLICY, clock: () => NOW, secret: randomBytes(32) }),
      new SessionSecretError(
        `The session signing key ${String(row?.id)} does not open with this secret: the database was set up with another KEYGATE_SECRET_FILE (or the row was altered). Start with the secret file this database was first started with; by default it is the .secret file beside the database.`,
      ),
    );
    const again = await world(t, { path, secret });
    assert.equal((await again.whoami(token)).statusCode, 200, 'the right secret opens it; sessions live on');
  });

  test('a sealed key opens only under its own key id', () => {
    const seal = new KeySeal(randomBytes(32));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const sealed = seal.seal('kid-a', privateKey);
    assert.equal(
      seal.open('kid-a', sealed).export({ format: 'jwk' }).d,
      privateKey.export({ format: 'jwk' }).d,
    );
    assert.throws(() => seal.open('kid-b', sealed), SessionSecretError);
    assert.throws(() => seal.open('kid-a', `${sealed}x`), SessionSecretError);
    assert.throws(() => new KeySeal(randomBytes(31)), SessionSecretError);
  });

  test('the plaintext key of an older database is sealed at start and keeps its key id', async (t) => {
    const path = join(dir, `${randomUUID()}.db`);
    const db = new DatabaseSync(path);
    for (const migration of SQLITE_MIGRATIONS.slice(0, 2)) db.exec(migration);
    db.exec('PRAGMA user_version = 2');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
    db.prepare(
      "INSERT INTO server_keys (id, private_pem, public_jwk, status, created_at) VALUES (?, ?, ?, 'active', ?)",
    ).run('legacy-kid', pem, JSON.stringify({ kty, crv, x, y }), NOW - 10);
    db.close();

    const w = await world(t, { path });
    const [row] = sql(path, 'SELECT id, sealed_private_key FROM server_keys');
    assert.equal(row?.id, 'legacy-kid');
    assert.match(String(row?.sealed_private_key), /^v1\./);
    assert.equal(
      new KeySeal(w.secret).open('legacy-kid', String(row?.sealed_private_key)).export({ format: 'jwk' }).d,
      privateKey.export({ format: 'jwk' }).d,
    );
    await w.keygate.users.create({ orgId: w.orgId, email: 'legacy@example.com', passHash: PASS_HASH });
    const token = await w.login('legacy@example.com');
    assert.equal(part(token, 0).kid, 'legacy-kid');
    assert.equal((await w.whoami(token)).statusCode, 200);
  });

  test('keygate server-key rotate uses the same secret as the server, and refuses another', async (t) => {
    const path = join(dir, `${randomUUID()}.db`);
    const secret = readSessionSecret({ secretFile: undefined, database: path });
    assert.ok(secret);
    const first = await world(t, { path, secret });
    await first.close();
    const cli = (env: Record<string, string>) =>
      spawnSync(process.execPath, [MAIN, 'server-key', 'rotate', '--json'], {
        env: { ...process.env, KEYGATE_DATABASE: path, ...env },
        encoding: 'utf8',
      });
    const rotated = cli({});
    assert.equal(rotated.status, 0, rotated.stderr + rotated.stdout);
    const { kid } = JSON.parse(rotated.stdout);
    const [active] = sql(path, "SELECT id, sealed_private_key FROM server_keys WHERE status = 'active'");
    assert.equal(active?.id, kid);
    assert.ok(
      new KeySeal(secret).open(kid, String(active?.sealed_private_key)),
      'sealed under the server secret',
    );

    const otherSecret = join(dir, `${randomUUID()}.secret`);
    writeFileSync(otherSecret, randomBytes(32), { mode: 0o600 });
    const refused = cli({ KEYGATE_SECRET_FILE: otherSecret });
    assert.equal(refused.status, 1);
    assert.match(JSON.parse(refused.stdout).error.message, /does not open with this secret/);
    assert.equal(sql(path, 'SELECT id FROM server_keys').length, 2, 'nothing was added');
  });
});

describe('user names compare as people read them', () => {
  test('login works with the name in any form people read as the same, and a look-alike account is refused', async (t) => {
    const w = await world(t);
    const jose = await w.keygate.users.create({
      orgId: w.orgId,
      email: 'jose\u0301@example.com',
      passHash: PASS_HASH,
    });
    const kate = await w.keygate.users.create({
      orgId: w.orgId,
      email: '\uff4bate@example.com',
      passHash: PASS_HASH,
    });
    assert.equal(kate.email, 'kate@example.com');
    for (const [user, account] of [
      ['jos\u00e9@example.com', jose],
      ['jose\u0301@example.com', jose],
      ['JOS\u00c9@Example.com', jose],
      ['kate@example.com', kate],
      ['\uff4bate@example.com', kate],
      ['\uff2b\uff41\uff54\uff45@example.com', kate],
    ] as const) {
      const token = await w.login(user);
      assert.equal((await w.whoami(token)).body.sub, account.id, user);
    }
    await assert.rejects(
      w.keygate.users.create({ orgId: w.orgId, email: 'jos\u00e9@example.com', passHash: PASS_HASH }),
      (error: unknown) => (error as { refusal?: { code: string } }).refusal?.code === 'conflict',
    );
    assert.deepEqual(
      sql(w.path, 'SELECT email FROM users ORDER BY email').map((row) => row.email),
      ['jos\u00e9@example.com', 'kate@example.com'],
    );
  });
});
