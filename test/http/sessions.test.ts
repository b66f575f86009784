import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture, NOW, rejectsWith } from '../helpers.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'correct horse battery staple';

let f: Fixture;
let app: FastifyInstance;
let orgId: string;

async function login(user: string, passHash: unknown, ip = '10.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress: ip,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ user, pass_hash: passHash }),
  });
}

async function sessionToken(email: string, password = PASSWORD): Promise<string> {
  const response = await login(
    email,
    sha256(password),
    `10.1.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  );
  assert.equal(response.statusCode, 202, response.body);
  return response.json().results.token.HY_APP_AUTH_v1;
}

async function createUser(email: string, options: { role?: string; password?: string } = {}) {
  return f.keygate.users.create({
    orgId,
    email,
    passHash: sha256(options.password ?? PASSWORD),
    screenName: 'Ali',
    ...(options.role && { role: options.role }),
  });
}

before(async () => {
  f = await fixture();
  orgId = f.orgId;
  app = await buildApp(f.keygate, { loginRateLimit: 1000 });
});
after(async () => {
  await app.close();
  await f.close();
});

/** Tests that move the shared frozen clock put it back even when an assertion fails half-way. */
function restoreClock(): void {
  f.now.value = NOW;
}

describe('POST /auth/login', () => {
  test('answers exactly the spec 004 sample shape', async () => {
    const user = await createUser('Ali@Example.com');
    const response = await login('ali@example.com', sha256(PASSWORD).toUpperCase());
    assert.equal(response.statusCode, 202);
    const body = response.json();
    assert.deepEqual(Object.keys(body), ['status', 'results', 'debug_info']);
    assert.equal(body.status, 202);
    assert.deepEqual(Object.keys(body.results), ['login_timestamp', 'token', 'user']);
    assert.match(body.results.login_timestamp, /^\d{19}$/);
    assert.deepEqual(Object.keys(body.results.token), ['HY_APP_AUTH_v1']);
    assert.deepEqual(body.results.user, {
      email: 'ali@example.com',
      id: user.id,
      screen_name: 'Ali',
      user_name: 'ali@example.com',
    });
    assert.match(body.debug_info.delta, /^\d+\.\d{6}ms$/);
    const whoami = await app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: body.results.token.HY_APP_AUTH_v1 },
    });
    assert.equal(whoami.statusCode, 200);
    assert.equal(whoami.json().results.method, 'session');
    assert.equal(whoami.json().results.sub, user.id);
    assert.equal(whoami.json().results.org_id, orgId);
  });

  test('a form body (httpie -f) logs in as JSON does', async () => {
    await createUser('form@example.com');
    const form = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `user=form%40example.com&pass_hash=${sha256(PASSWORD)}`,
    });
    assert.equal(form.statusCode, 202, form.body);
  });

  test('unknown user, wrong password, disabled and locked accounts get the same status and body', async () => {
    await createUser('locked@example.com');
    await createUser('disabled@example.com');
    await f.keygate.users.setStatus('disabled@example.com', 'disabled');
    for (let i = 0; i < 5; i++) await login('locked@example.com', sha256('nope'));
    const answers = await Promise.all([
      login('nobody@example.com', sha256(PASSWORD)),
      login('ali@example.com', sha256('wrong')),
      login('disabled@example.com', sha256(PASSWORD)),
      login('locked@example.com', sha256(PASSWORD)),
    ]);
    const strip = (body: string) => ({ ...JSON.parse(body), debug_info: undefined });
    for (const answer of answers) {
      assert.equal(answer.statusCode, 401);
      assert.deepEqual(strip(answer.body), strip(answers[0]?.body as string));
      assert.equal(answer.headers['www-authenticate'], undefined);
    }
    assert.equal(JSON.parse(answers[0]?.body as string).error.code, 'invalid_credentials');
  });

  test('pass_hash malformed in every way is a 400 naming the field and changes nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /missing/],
      [null, /missing/],
      [12345, /not a number/],
      [[sha256(PASSWORD)], /not an array/],
      [{ hash: 'x' }, /not a object/],
      ['', /0 characters/],
      [sha256(PASSWORD).slice(1), /63 characters/],
      [`${sha256(PASSWORD)}0`, /65 characters/],
      [`${sha256(PASSWORD).slice(1)}g`, /non-hex/],
      [PASSWORD, /non-hex/],
      [` ${sha256(PASSWORD).slice(1)}`, /non-hex/],
    ];
    const failuresBefore = (await f.keygate.store.getUserByEmail('ali@example.com'))?.failedLogins;
    for (const [passHash, message] of cases) {
      const response = await login('ali@example.com', passHash);
      assert.equal(response.statusCode, 400, `${JSON.stringify(passHash)}: ${response.body}`);
      const { error } = response.json();
      assert.equal(error.code, 'invalid_input');
      assert.equal(error.field, 'pass_hash');
      assert.match(error.message, message);
      assert.match(error.hint, /SHA-256/);
    }
    const noUser = await login(undefined as unknown as string, sha256(PASSWORD));
    assert.equal(noUser.json().error.field, 'user');
    assert.equal((await f.keygate.store.getUserByEmail('ali@example.com'))?.failedLogins, failuresBefore);
  });

  test('failures lock the account with exponential backoff; the lock expires (frozen clock)', async (t) => {
    t.after(restoreClock);
    const user = await createUser('backoff@example.com');
    for (let i = 0; i < 5; i++)
      assert.equal((await login('backoff@example.com', sha256('wrong'))).statusCode, 401);
    assert.equal((await f.keygate.store.getUser(user.id))?.lockedUntil, NOW + 30);
    assert.equal(
      (await login('backoff@example.com', sha256(PASSWORD))).statusCode,
      401,
      'locked: even the right password fails',
    );
    f.now.value = NOW + 30;
    assert.equal((await login('backoff@example.com', sha256('wrong'))).statusCode, 401);
    assert.equal(
      (await f.keygate.store.getUser(user.id))?.lockedUntil,
      NOW + 30 + 60,
      'the next lock is twice as long',
    );
    f.now.value = NOW + 90;
    assert.equal((await login('backoff@example.com', sha256(PASSWORD))).statusCode, 202);
    assert.equal((await f.keygate.store.getUser(user.id))?.failedLogins, 0);
  });

  test('the password hash is argon2id with OWASP parameters, and a weaker hash is upgraded at login', async () => {
    const user = await createUser('rehash@example.com');
    assert.match(user.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(!user.passwordHash.includes(sha256(PASSWORD)));
    const { PasswordHasher } = await import('../../src/service/password-hasher.ts');
    const weak = await new PasswordHasher({ params: { memoryKiB: 8192, passes: 1, parallelism: 1 } }).hash(
      sha256(PASSWORD),
    );
    await f.keygate.store.upgradePasswordHash(user.id, weak);
    assert.equal((await login('rehash@example.com', sha256(PASSWORD))).statusCode, 202);
    assert.match((await f.keygate.store.getUser(user.id))?.passwordHash ?? '', /m=19456,t=2,p=1/);
  });
});

describe('session tokens', () => {
  test('logout revokes the session on the next request; /auth/hello explains why', async () => {
    await createUser('logout@example.com');
    const token = await sessionToken('logout@example.com');
    const logout = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(logout.json().results, { logged_out: true });
    const whoami = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: token } });
    assert.equal(whoami.statusCode, 401);
    assert.equal(whoami.json().error.code, 'session_revoked');
    assert.match(whoami.json().error.message, /logged out/);
    const hello = (
      await app.inject({ method: 'GET', url: '/auth/hello', headers: { authorization: token } })
    ).json().results;
    assert.equal(hello.kind, 'session');
    assert.equal(hello.code, 'session_revoked');
    assert.deepEqual(
      hello.checks.map((c: { name: string }) => c.name),
      [
        'token',
        'format',
        'header',
        'alg',
        'kid',
        'key',
        'signature',
        'iss',
        'sub',
        'exp',
        'iat',
        'nbf',
        'aud',
        'role',
        'sid',
        'session',
      ],
    );
  });

  test('disabling a user or changing the password ends all of their sessions', async () => {
    await createUser('many@example.com');
    const first = await sessionToken('many@example.com');
    const second = await sessionToken('many@example.com');
    await f.keygate.users.setStatus('many@example.com', 'disabled');
    for (const token of [first, second])
      await rejectsWith(f.keygate.authenticator.authenticate(token), 'session_revoked');
    await f.keygate.users.setStatus('many@example.com', 'active');
    const third = await sessionToken('many@example.com');
    await f.keygate.users.setPassword('many@example.com', sha256('new password'));
    await rejectsWith(f.keygate.authenticator.authenticate(third), 'session_revoked');
    assert.equal((await login('many@example.com', sha256(PASSWORD))).statusCode, 401);
    await sessionToken('many@example.com', 'new password');
  });

  test('idle and absolute lifetimes end a session (frozen clock)', async (t) => {
    t.after(restoreClock);
    await createUser('idle@example.com');
    const token = await sessionToken('idle@example.com');
    f.now.value = NOW + 29 * 60;
    await f.keygate.authenticator.authenticate(token);
    f.now.value = NOW + 29 * 60 + 31 * 60;
    await rejectsWith(f.keygate.authenticator.authenticate(token), 'session_revoked');
    f.now.value = NOW;
    const active = await sessionToken('idle@example.com');
    for (let time = NOW; time < NOW + 12 * 3600; time += 20 * 60) {
      f.now.value = time;
      await f.keygate.authenticator.authenticate(active);
    }
    f.now.value = NOW + 12 * 3600 + 61;
    await rejectsWith(f.keygate.authenticator.authenticate(active), 'token_expired');
    const expired = (await f.keygate.authenticator.explain(active)).checks.find((c) => c.name === 'exp');
    assert.match(expired?.hint ?? '', /Log in again/, 'a session token is obtained again, not re-signed');
  });

  test('a session token never passes as a key-pair token, nor the reverse', async () => {
    await createUser('confuse@example.com');
    const session = await sessionToken('confuse@example.com');
    const [h, p, s] = session.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    // Relabelled as a key-pair token: the signature covers the header, so it breaks.
    const relabelled = `${Buffer.from(JSON.stringify({ ...header, typ: 'JWT' })).toString('base64url')}.${p}.${s}`;
    assert.notEqual((await f.keygate.authenticator.explain(relabelled)).valid, true);
    // A key-pair token labelled as a session token: verified only against server keys.
    const keyPair = f.token({}, { alg: 'ES256', typ: 'keygate-session+jwt', kid: f.kid });
    await rejectsWith(f.keygate.authenticator.authenticate(keyPair), 'kid_unknown');
    const rs = f.token(
      { sid: payload.sid, org_id: orgId },
      { alg: 'RS256', typ: 'keygate-session+jwt', kid: header.kid },
    );
    await rejectsWith(f.keygate.authenticator.authenticate(rs), 'alg_not_allowed');
    // A key-pair token cannot log out a session.
    const logout = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { authorization: f.token() },
    });
    assert.equal(logout.statusCode, 401);
    assert.equal(logout.json().error.code, 'token_malformed');
  });

  test('the public half of the session key is at /.well-known/jwks.json and verifies session tokens', async () => {
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const { createPublicKey, verify } = await import('node:crypto');
    await createUser('jwks@example.com');
    const token = await sessionToken('jwks@example.com');
    const [h, p, s] = token.split('.') as [string, string, string];
    const ok = verify(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key: createPublicKey({ key, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
      Buffer.from(s, 'base64url'),
    );
    assert.ok(ok);
  });

  test('rotating the server key keeps old session tokens valid and signs new ones with the new key', async () => {
    await createUser('rotate@example.com');
    const before = await sessionToken('rotate@example.com');
    const kid = await f.keygate.keyring.rotate();
    const after = await sessionToken('rotate@example.com');
    assert.equal(JSON.parse(Buffer.from(after.split('.')[0] as string, 'base64url').toString()).kid, kid);
    await f.keygate.authenticator.authenticate(before);
    await f.keygate.authenticator.authenticate(after);
  });
});

describe('floods', () => {
  test('logins beyond the per-address limit get 429 with Retry-After', async (t) => {
    const limited = await buildApp(f.keygate, { loginRateLimit: 3 });
    t.after(() => limited.close());
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof limited.inject>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await limited.inject({
        method: 'POST',
        url: '/auth/login',
        remoteAddress: '192.0.2.7',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ user: 'nobody@example.com', pass_hash: sha256('x') }),
      });
      statuses.push(last.statusCode);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    assert.ok(Number(last?.headers['retry-after']) > 0);
    assert.equal(last?.json().error.code, 'rate_limited');
    assert.match(last?.json().error.hint, /Retry-After/);
  });

  test('hashing beyond the concurrency cap and queue is shed with 503 busy', async (t) => {
    const { startKeygate } = await import('../../src/service/keygate.ts');
    const { POLICY } = await import('../helpers.ts');
    const small = await startKeygate({ database: ':memory:', policy: POLICY, hashConcurrency: 1 });
    // A queue of 16 waiting hashes: the 18th concurrent login cannot wait and is refused.
    const busyApp = await buildApp(small, { loginRateLimit: 1000 });
    t.after(async () => {
      await busyApp.close();
      await small.close();
    });
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        busyApp.inject({
          method: 'POST',
          url: '/auth/login',
          remoteAddress: `198.51.100.${i}`,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ user: 'nobody@example.com', pass_hash: sha256('x') }),
        }),
      ),
    );
    const statuses = answers.map((a) => a.statusCode);
    assert.ok(statuses.includes(503), statuses.join(','));
    const busy = answers.find((a) => a.statusCode === 503);
    assert.equal(busy?.json().error.code, 'busy');
    assert.equal(busy?.headers['retry-after'], '1');
    assert.ok(statuses.every((s) => s === 401 || s === 503));
  });
});

describe('secrets stay secret', () => {
  test('neither the pass_hash nor the session token appears in the server log', async (t) => {
    const lines: string[] = [];
    const logged = await buildApp(f.keygate, {
      loginRateLimit: 1000,
      logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } },
    });
    t.after(() => logged.close());
    await createUser('logged@example.com');
    const passHash = sha256(PASSWORD);
    const response = await logged.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ user: 'logged@example.com', pass_hash: passHash }),
    });
    const token = response.json().results.token.HY_APP_AUTH_v1 as string;
    await logged.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });
    await logged.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"user":"x","pass_hash":"zz"}',
    });
    const log = lines.join('');
    assert.ok(lines.length > 0);
    assert.ok(!log.includes(passHash));
    assert.ok(!log.includes(token.split('.')[2] as string));
    assert.ok(!log.includes('"zz"'));
  });

  test('a pepper is mixed into every hash: the same password does not verify without it', async () => {
    const { PasswordHasher } = await import('../../src/service/password-hasher.ts');
    const pepper = Buffer.alloc(32, 7);
    const peppered = new PasswordHasher({ pepper });
    const phc = await peppered.hash(sha256(PASSWORD));
    assert.equal(await peppered.verify(sha256(PASSWORD), phc), true);
    assert.equal(await new PasswordHasher().verify(sha256(PASSWORD), phc), false);
    assert.equal(
      await new PasswordHasher({ pepper: Buffer.alloc(32, 8) }).verify(sha256(PASSWORD), phc),
      false,
    );
  });
});
