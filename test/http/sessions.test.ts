import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_LOGIN_THROTTLE } from '../../src/core/login-throttle.ts';
import { buildApp } from '../../src/http/app.ts';
import type { PasswordHasher } from '../../src/service/password-hasher.ts';
import { type Fixture, fixture, NOW, POLICY, rejectsWith } from '../helpers.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'correct horse battery staple';

let f: Fixture;
let app: FastifyInstance;
let orgId: string;

async function login(user: string, passHash: unknown, ip = '10.0.0.1', to = app) {
  return to.inject({
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

/** Counts the argon2 computations a hasher runs, real verifications and dummy ones alike. */
function countHashes(hasher: PasswordHasher, t: { after(fn: () => void): void }): { count: number } {
  const target = hasher as unknown as { run: (...args: unknown[]) => Promise<Buffer> };
  const run = target.run;
  const counter = { count: 0 };
  target.run = function (this: unknown, ...args: unknown[]) {
    counter.count++;
    return run.apply(this, args);
  };
  t.after(() => {
    target.run = run;
  });
  return counter;
}

/** What a client can compare between two answers: all but the timing in debug_info. */
function answer(response: Awaited<ReturnType<FastifyInstance['inject']>>) {
  return {
    status: response.statusCode,
    retryAfter: response.headers['retry-after'],
    body: { ...response.json(), debug_info: undefined },
  };
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

  test('unknown user, wrong password, disabled and throttled accounts get the same status and body', async () => {
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
    const attemptsBefore = await f.keygate.store.getLoginAttempts('ali@example.com', NOW);
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
    assert.deepEqual(
      await f.keygate.store.getLoginAttempts('ali@example.com', NOW),
      attemptsBefore,
      'a malformed request is not an attempt',
    );
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

describe('login throttle', () => {
  test('16 wrong passwords at once from one address: 5 are hashed; then the right one gets the same 401 until the wait has passed (frozen clock)', async (t) => {
    t.after(restoreClock);
    await createUser('burst@example.com');
    const hashes = countHashes(f.keygate.hasher, t);
    const wrong = await Promise.all(
      Array.from({ length: 16 }, (_, i) => login('burst@example.com', sha256(`guess ${i}`), '203.0.113.1')),
    );
    assert.equal(hashes.count, 5, 'only the free attempts were hashed');
    const refused = answer(wrong[0] as (typeof wrong)[number]);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'invalid_credentials');
    for (const response of wrong) assert.deepEqual(answer(response).body, refused.body);
    assert.deepEqual(
      wrong.map((response) => response.headers['retry-after']),
      [...Array(5).fill(undefined), ...Array(11).fill('30')],
      'hashed failures say nothing more; refused ones say when to retry',
    );
    const right = answer(await login('burst@example.com', sha256(PASSWORD), '203.0.113.1'));
    assert.deepEqual(right, { ...refused, retryAfter: '30' }, 'the right password waits like any guess');
    f.now.value = NOW + 29;
    assert.equal(answer(await login('burst@example.com', sha256(PASSWORD), '203.0.113.1')).retryAfter, '1');
    assert.equal(hashes.count, 5, 'nothing refused was hashed');
    f.now.value = NOW + 30;
    assert.equal((await login('burst@example.com', sha256(PASSWORD), '203.0.113.1')).statusCode, 202);
    assert.deepEqual(
      await f.keygate.store.getLoginAttempts('burst@example.com', NOW + 30),
      [
        {
          address: '203.0.113.1',
          attempts: 0,
          windowEndsAt: NOW + 30,
          blockedUntil: 0,
          trustedUntil: NOW + 30 + 30 * 86400,
        },
      ],
      'a success clears the counts',
    );
  });

  test('guesses from one address never stop the owner elsewhere; from many, they delay the owner 30 s at most, and never at a trusted address (frozen clock)', async (t) => {
    const now = { value: NOW };
    const { startKeygate } = await import('../../src/service/keygate.ts');
    // Cheap hashes: a hundred addresses guess here. The throttle is the default one.
    const g = await startKeygate({
      database: ':memory:',
      policy: POLICY,
      clock: () => now.value,
      argon2: { memoryKiB: 64, passes: 1, parallelism: 1 },
    });
    const gApp = await buildApp(g, { loginRateLimit: 10_000 });
    t.after(async () => {
      await gApp.close();
      await g.close();
    });
    const org = await g.keys.createOrg('Owner Org');
    await g.users.create({ orgId: org.id, email: 'owner@example.com', passHash: sha256(PASSWORD) });
    const owner = (ip: string) => login('owner@example.com', sha256(PASSWORD), ip, gApp);
    const guess = (ip: string) => login('owner@example.com', sha256('guess'), ip, gApp);
    assert.equal((await owner('192.0.2.10')).statusCode, 202, 'the owner at home');

    for (let i = 0; i < 40; i++) await guess('203.0.113.2');
    assert.equal((await guess('203.0.113.2')).headers['retry-after'], '30');
    assert.equal((await owner('198.51.100.2')).statusCode, 202, 'one address cannot delay the owner at all');

    const { perAccount } = DEFAULT_LOGIN_THROTTLE;
    for (let i = 0; i < perAccount.freeAttempts; i++) await guess(`10.9.${i >> 8}.${i & 255}`);
    const delayed = await owner('198.51.100.3');
    assert.equal(delayed.statusCode, 401, 'past the account-wide limit a new address waits');
    assert.equal(delayed.headers['retry-after'], String(perAccount.maxDelaySeconds));
    assert.equal(perAccount.maxDelaySeconds, 30);
    assert.equal((await guess('10.9.200.1')).headers['retry-after'], '30', 'and so does every guess');
    assert.equal(
      (await owner('192.0.2.10')).statusCode,
      202,
      'an address the owner logged in from does not wait',
    );

    for (let i = 0; i < perAccount.freeAttempts; i++) await guess(`10.8.${i >> 8}.${i & 255}`);
    now.value = NOW + 29;
    assert.equal((await owner('198.51.100.4')).headers['retry-after'], '1');
    now.value = NOW + 30;
    assert.equal((await owner('198.51.100.4')).statusCode, 202, 'the wait is over after 30 s');
  });

  test('names no account has are throttled exactly as real ones: same answers, same hashing', async (t) => {
    t.after(restoreClock);
    await createUser('real@example.com');
    await createUser('off@example.com');
    await f.keygate.users.setStatus('off@example.com', 'disabled');
    const hashes = countHashes(f.keygate.hasher, t);
    const run = async (name: string, ip: string) => {
      const before = hashes.count;
      const answers = [];
      for (let i = 0; i < 7; i++) answers.push(answer(await login(name, sha256('wrong'), ip)));
      f.now.value = NOW + 30;
      answers.push(answer(await login(name, sha256('wrong'), ip)));
      answers.push(answer(await login(name, sha256('wrong'), ip)));
      f.now.value = NOW;
      return { answers, hashed: hashes.count - before };
    };
    const real = await run('real@example.com', '198.51.100.20');
    assert.equal(real.hashed, 6);
    assert.deepEqual(
      real.answers.map((a) => a.retryAfter),
      [undefined, undefined, undefined, undefined, undefined, '30', '30', undefined, '60'],
    );
    assert.deepEqual(await run('nobody-at-all@example.com', '198.51.100.21'), real);
    assert.deepEqual(await run('off@example.com', '198.51.100.22'), real);
  });

  test('IPv6 clients are counted per /64: a new address in the same /64 waits too', async () => {
    await createUser('six@example.com');
    for (let i = 0; i < 5; i++) await login('six@example.com', sha256('wrong'), `2001:db8:1:2::${i + 1}`);
    const next = await login('six@example.com', sha256(PASSWORD), '2001:db8:1:2:ffff:1:2:3');
    assert.equal(next.headers['retry-after'], '30');
    assert.equal((await login('six@example.com', sha256(PASSWORD), '2001:db8:1:3::1')).statusCode, 202);
  });

  test('the dummy hash exists from the start: refusing the first unknown user costs one argon2, as any other', async (t) => {
    const { PasswordHasher } = await import('../../src/service/password-hasher.ts');
    const hasher = new PasswordHasher({ params: { memoryKiB: 64, passes: 1, parallelism: 1 } });
    const hashes = countHashes(hasher, t);
    assert.equal(await hasher.verifyDummy(sha256('x')), false);
    assert.equal(hashes.count, 1);
    assert.equal(await hasher.verifyDummy(sha256('x')), false);
    assert.equal(hashes.count, 2);
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
    // Relabelled as a key-pair token: its kid is looked up among registered keys, where a server
    // key's kid is not.
    const relabelled = `${Buffer.from(JSON.stringify({ ...header, typ: 'JWT' })).toString('base64url')}.${p}.${s}`;
    await rejectsWith(f.keygate.authenticator.authenticate(relabelled), 'kid_unknown');
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

  test('hashing beyond the concurrency cap and queue is shed with 503 busy, and counts no attempt', async (t) => {
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
    const [counted] = await small.store.getLoginAttempts('nobody@example.com', small.clock());
    assert.equal(
      counted?.attempts,
      statuses.filter((s) => s === 401).length,
      'a login shed for load is not counted as an attempt',
    );
  });
});

describe('secrets stay secret', () => {
  test('neither the pass_hash nor the session token appears in the server log', async (t) => {
    const lines: string[] = [];
    const logged = await buildApp(f.keygate, {
      loginRateLimit: 1000,
      accessLog: true,
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
