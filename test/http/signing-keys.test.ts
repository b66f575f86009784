import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { AUD, ecPair, type Fixture, fixture, NOW, rsaPair, signJwt, type TestPair } from '../helpers.ts';

// Spec 002's self-service keys over HTTP, on a frozen clock: ownership both ways, role ceilings,
// caps, rotation with grace, and revocation or a disabled owner reaching cached tokens at once.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'correct horse battery staple';

let f: Fixture;
let app: FastifyInstance;
let other: { orgId: string; token: string };

interface Account {
  id: string;
  email: string;
  token: string;
}

let addressCounter = 0;
/** Each call from its own address, so the per-address rate limit is tested only where meant. */
const nextAddress = () => `10.9.${Math.floor(++addressCounter / 250)}.${addressCounter % 250}`;

async function account(role = 'user', orgId = f.orgId): Promise<Account> {
  const email = `${role}-${randomUUID().slice(0, 8)}@example.com`;
  const user = await f.keygate.users.create({ orgId, email, passHash: sha256(PASSWORD), role });
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress: nextAddress(),
    payload: { user: email, pass_hash: sha256(PASSWORD) },
  });
  assert.equal(response.statusCode, 202, response.body);
  return { id: user.id, email, token: response.json().results.token.HY_APP_AUTH_v1 };
}

function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  token: string,
  payload?: object,
  remoteAddress = nextAddress(),
) {
  return app.inject({
    method,
    url,
    remoteAddress,
    // Spec 002 writes the scheme in lower case.
    headers: { authorization: `bearer ${token}` },
    ...(payload && { payload }),
  });
}

async function register(token: string, pair: TestPair, extra: object = {}) {
  const response = await call('POST', '/auth/signing-keys', token, { public_key: pair.publicPem, ...extra });
  assert.equal(response.statusCode, 201, response.body);
  return response.json().results as { key_id: string; org_id: string; owner: { type: string; id: string } };
}

function keyToken(
  pair: TestPair,
  kid: string,
  claims: Record<string, unknown> = {},
  orgId = f.orgId,
): string {
  const alg = pair.privateKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  return signJwt(
    { alg, typ: 'JWT', kid },
    {
      jti: randomUUID(),
      iss: orgId,
      iat: f.now.value,
      exp: f.now.value + 600,
      aud: AUD,
      sub: 'someone',
      role: 'user',
      ...claims,
    },
    pair.privateKey,
  );
}

async function whoami(token: string) {
  return app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });
}

function assertRefused(response: { statusCode: number; body: string }, status: number, code: string) {
  assert.equal(response.statusCode, status, response.body);
  assert.equal(JSON.parse(response.body).error.code, code, response.body);
}

before(async () => {
  f = await fixture({ keyCaps: { perOrg: 100, perOwner: 3 } });
  app = await buildApp(f.keygate, { loginRateLimit: 1000 });
  const org = await f.keygate.keys.createOrg('Other Org');
  const stranger = await account('admin', org.id);
  other = { orgId: org.id, token: stranger.token };
});
after(async () => {
  await app.close();
  await f.close();
});
afterEach(() => {
  f.now.value = NOW;
});

describe('registering a key', () => {
  test('a user registers their own P-256 key with a session token, and signs for themselves at once', async () => {
    const ali = await account();
    const pair = ecPair();
    const key = await register(ali.token, pair, { label: 'laptop' });
    assert.deepEqual(key.owner, { type: 'user', id: ali.id, email: ali.email });
    assert.equal(key.org_id, f.orgId);
    const response = await whoami(keyToken(pair, key.key_id, { sub: ali.id }));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json().results.sub, ali.id);
  });

  test("a user's key signs for no one else: sub_not_permitted, and /auth/hello shows the owner check", async () => {
    const ali = await account();
    const pair = ecPair();
    const key = await register(ali.token, pair);
    const token = keyToken(pair, key.key_id, { sub: 'bob' });
    assertRefused(await whoami(token), 401, 'sub_not_permitted');
    const hello = await app.inject({ method: 'GET', url: '/auth/hello', headers: { authorization: token } });
    const report = hello.json().results;
    assert.equal(report.code, 'sub_not_permitted');
    const owner = report.checks.find((check: { name: string }) => check.name === 'owner');
    assert.equal(owner.ok, false);
    assert.equal(owner.expected, ali.id);
    assert.equal(owner.actual, 'bob');
  });

  test('an organization key signs for any sub, as spec 001 describes', async () => {
    const admin = await account('admin');
    const pair = rsaPair();
    const key = await register(admin.token, pair);
    assert.deepEqual(key.owner, { type: 'org', id: f.orgId });
    assert.equal((await whoami(keyToken(pair, key.key_id, { sub: 'any-device-42' }))).statusCode, 200);
  });

  test('a user cannot grant a role they do not hold; an admin can, and a user key gets its owner role', async () => {
    const ali = await account('user');
    for (const roles of [['admin'], ['device'], ['user', 'service']]) {
      const response = await call('POST', '/auth/signing-keys', ali.token, {
        public_key: ecPair().publicPem,
        roles,
      });
      assertRefused(response, 403, 'forbidden');
      assert.equal(response.json().error.field, 'roles');
    }
    const plain = await call('POST', '/auth/signing-keys', ali.token, { public_key: ecPair().publicPem });
    assert.deepEqual(plain.json().results.roles, ['user']);
    const device = await account('device');
    const own = await call('POST', '/auth/signing-keys', device.token, { public_key: ecPair().publicPem });
    assert.deepEqual(own.json().results.roles, ['device']);
    const admin = await account('admin');
    const granted = await call('POST', '/auth/signing-keys', admin.token, {
      public_key: ecPair().publicPem,
      roles: ['admin', 'service'],
      default_role: 'service',
    });
    assert.equal(granted.statusCode, 201, granted.body);
    assert.deepEqual(granted.json().results.roles, ['admin', 'service']);
  });

  test('a non-admin cannot register a key of the organization; an admin may make a key their own', async () => {
    const ali = await account();
    const refused = await call('POST', '/auth/signing-keys', ali.token, {
      public_key: ecPair().publicPem,
      owner: 'org',
    });
    assertRefused(refused, 403, 'forbidden');
    const admin = await account('admin');
    const own = await register(admin.token, ecPair(), { owner: 'self' });
    assert.deepEqual(own.owner, { type: 'user', id: admin.id, email: admin.email });
  });

  test('bad input names the field, says what to do, and registers nothing', async () => {
    const ali = await account();
    const cases: [object, string][] = [
      [{ public_key: 'not a key' }, 'public_key'],
      [{ public_key: rsaPair(1024).publicPem }, 'public_key'],
      [{ public_key: ecPair().publicPem, expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      [{ public_key: ecPair().publicPem, default_role: 'admin' }, 'default_role'],
      [{ public_key: ecPair().publicPem, roles: ['root'] }, 'roles'],
    ];
    for (const [body, field] of cases) {
      const response = await call('POST', '/auth/signing-keys', ali.token, body);
      assert.equal(response.statusCode, 400, response.body);
      const { error } = response.json();
      assert.equal(error.field, field, response.body);
      assert.ok(error.message && error.hint, response.body);
    }
    const unknownField = await call('POST', '/auth/signing-keys', ali.token, {
      public_key: ecPair().publicPem,
      sub: 'x',
    });
    assertRefused(unknownField, 400, 'invalid_request');
    const list = await call('GET', '/auth/signing-keys', ali.token);
    assert.deepEqual(list.json().results.keys, []);
  });

  test('a private key is refused with a hint to rotate it, and the same key twice is a conflict', async () => {
    const ali = await account();
    const pair = ecPair();
    const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const leaked = await call('POST', '/auth/signing-keys', ali.token, { public_key: privatePem });
    assert.equal(leaked.statusCode, 400);
    assert.match(leaked.json().error.hint, /rotate|new key/i);
    await register(ali.token, pair);
    assertRefused(
      await call('POST', '/auth/signing-keys', ali.token, { public_key: pair.publicPem }),
      409,
      'conflict',
    );
  });

  test('a key-pair token may manage keys only with the admin role', async () => {
    const userToken = keyToken(f.pair, f.kid, { role: 'user' });
    const refused = await call('POST', '/auth/signing-keys', userToken, { public_key: ecPair().publicPem });
    assertRefused(refused, 403, 'forbidden');
    const admin = await account('admin');
    const adminPair = rsaPair();
    const adminKey = await register(admin.token, adminPair, { roles: ['admin'] });
    const adminToken = keyToken(adminPair, adminKey.key_id, { role: 'admin', sub: 'deploy-bot' });
    const key = await register(adminToken, ecPair());
    assert.deepEqual(key.owner, { type: 'org', id: f.orgId });
    const self = await call('POST', '/auth/signing-keys', adminToken, {
      public_key: ecPair().publicPem,
      owner: 'self',
    });
    assertRefused(self, 400, 'invalid_input');
  });

  test('no token, or a bad one, is a 401 with its reason code', async () => {
    const none = await app.inject({ method: 'GET', url: '/auth/signing-keys' });
    assertRefused(none, 401, 'token_missing');
    const junk = await call('GET', '/auth/signing-keys', 'a.b.c');
    assertRefused(junk, 401, 'token_malformed');
  });
});

describe('who sees and manages which key', () => {
  test("a user sees only their own keys; an admin every key of the org; another org's admin none", async () => {
    const ali = await account();
    const bob = await account();
    const aliKey = await register(ali.token, ecPair());
    const bobKey = await register(bob.token, ecPair());
    const ids = async (token: string) =>
      (await call('GET', '/auth/signing-keys', token))
        .json()
        .results.keys.map((k: { key_id: string }) => k.key_id);
    assert.deepEqual(await ids(ali.token), [aliKey.key_id]);
    assert.deepEqual(await ids(bob.token), [bobKey.key_id]);
    const admin = await account('admin');
    const all = await ids(admin.token);
    assert.ok(all.includes(aliKey.key_id) && all.includes(bobKey.key_id) && all.includes(f.kid));
    assert.deepEqual(
      (await ids(other.token)).filter((id: string) => all.includes(id)),
      [],
    );
    const listed = (await call('GET', '/auth/signing-keys', ali.token)).json().results;
    assert.equal(listed.audience, AUD);
    assert.equal(listed.max_token_lifetime_seconds, 3600);
    const [view] = listed.keys;
    assert.equal(view.status, 'active');
    assert.deepEqual(view.owner, { type: 'user', id: ali.id, email: ali.email });
    assert.deepEqual(view.algorithms, ['ES256']);
    for (const field of ['created_at', 'last_used_at', 'expires_at', 'label', 'fingerprint', 'revokes_at'])
      assert.ok(field in view, field);
  });

  test("another user's key, another org's key, or no key at all is the same 404 for revoke and rotate", async () => {
    const ali = await account();
    const bob = await account();
    const aliKey = await register(ali.token, ecPair());
    const rotate = { public_key: ecPair().publicPem, grace_seconds: 60 };
    for (const [token, kid] of [
      [bob.token, aliKey.key_id],
      [other.token, aliKey.key_id],
      [other.token, f.kid],
      [bob.token, f.kid],
      [ali.token, randomUUID()],
      [ali.token, 'not-a-uuid'],
    ] as const) {
      const revoke = await call('DELETE', `/auth/signing-keys/${kid}`, token);
      assertRefused(revoke, 404, 'not_found');
      assertRefused(await call('POST', `/auth/signing-keys/${kid}/rotate`, token, rotate), 404, 'not_found');
      assert.equal(JSON.parse(revoke.body).error.message.includes(ali.email), false);
    }
    const stillThere = (await call('GET', '/auth/signing-keys', ali.token)).json().results.keys;
    assert.equal(stillThere[0].status, 'active');
  });

  test("an admin revokes a user's key", async () => {
    const ali = await account();
    const aliKey = await register(ali.token, ecPair());
    const admin = await account('admin');
    const revoked = await call('DELETE', `/auth/signing-keys/${aliKey.key_id}`, admin.token);
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.equal(revoked.json().results.status, 'revoked');
  });
});

describe('revocation, disabled owners and caps', () => {
  test('revocation reaches a cached token on the very next request', async () => {
    const ali = await account();
    const pair = ecPair();
    const key = await register(ali.token, pair);
    const token = keyToken(pair, key.key_id, { sub: ali.id });
    assert.equal((await whoami(token)).statusCode, 200);
    assert.equal((await whoami(token)).statusCode, 200, 'its second use admits it to the token cache');
    assert.equal((await whoami(token)).statusCode, 200, 'served from the token cache');
    const revoked = await call('DELETE', `/auth/signing-keys/${key.key_id}`, ali.token);
    assert.equal(revoked.statusCode, 200, revoked.body);
    assertRefused(await whoami(token), 401, 'key_revoked');
    const again = await call('DELETE', `/auth/signing-keys/${key.key_id}`, ali.token);
    assert.equal(again.json().results.status, 'revoked', 'revoking twice is harmless');
  });

  test("disabling a user stops their keys' tokens on the next request, cached or not", async () => {
    const ali = await account();
    const pair = ecPair();
    const key = await register(ali.token, pair);
    const cached = keyToken(pair, key.key_id, { sub: ali.id });
    // Its second use admits it to the token cache.
    for (let use = 0; use < 2; use++) assert.equal((await whoami(cached)).statusCode, 200);
    await f.keygate.users.setStatus(ali.email, 'disabled');
    assertRefused(await whoami(cached), 401, 'key_disabled');
    assertRefused(await whoami(keyToken(pair, key.key_id, { sub: ali.id })), 401, 'key_disabled');
    await f.keygate.users.setStatus(ali.email, 'active');
    assert.equal((await whoami(cached)).statusCode, 200, 'enabling the user again restores the key');
  });

  test('per-user and per-org caps refuse one key too many with limit_reached; revoking frees a place', async () => {
    const ali = await account();
    const kids: string[] = [];
    for (let i = 0; i < 3; i++) kids.push((await register(ali.token, ecPair())).key_id);
    const over = await call('POST', '/auth/signing-keys', ali.token, { public_key: ecPair().publicPem });
    assertRefused(over, 409, 'limit_reached');
    assert.match(over.json().error.message, /3 live keys/);
    await call('DELETE', `/auth/signing-keys/${kids[0]}`, ali.token);
    await register(ali.token, ecPair());

    const org = await f.keygate.keys.createOrg('Capped Org');
    const admin = await account('admin', org.id);
    for (let i = 0; i < 100; i++) await register(admin.token, ecPair());
    assertRefused(
      await call('POST', '/auth/signing-keys', admin.token, { public_key: ecPair().publicPem }),
      409,
      'limit_reached',
    );
  });

  test('concurrent registrations never overshoot a cap', async () => {
    const ali = await account();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        call('POST', '/auth/signing-keys', ali.token, { public_key: ecPair().publicPem }),
      ),
    );
    const statuses = responses.map((response) => response.statusCode).sort();
    assert.deepEqual(statuses, [201, 201, 201, 409, 409, 409, 409, 409]);
  });
});

describe('rotation', () => {
  test('the old key signs until the grace ends, then is revoked by itself; the new key works at once', async () => {
    const ali = await account();
    const oldPair = ecPair();
    const oldKey = await register(ali.token, oldPair, { label: 'ci' });
    const oldToken = keyToken(oldPair, oldKey.key_id, { sub: ali.id });
    assert.equal((await whoami(oldToken)).statusCode, 200);
    const newPair = rsaPair();
    const rotated = await call('POST', `/auth/signing-keys/${oldKey.key_id}/rotate`, ali.token, {
      public_key: newPair.publicPem,
      grace_seconds: 3600,
    });
    assert.equal(rotated.statusCode, 201, rotated.body);
    const { key, replaced } = rotated.json().results;
    assert.deepEqual(key.owner, { type: 'user', id: ali.id, email: ali.email });
    assert.deepEqual(key.algorithms, ['RS256', 'RS384']);
    assert.equal(replaced.replaced_by, key.key_id);
    assert.equal(replaced.revokes_at, new Date((NOW + 3600) * 1000).toISOString().replace('.000Z', 'Z'));
    assert.equal(
      (await whoami(keyToken(newPair, key.key_id, { sub: ali.id }))).statusCode,
      200,
      'the replacement signs at once',
    );
    f.now.value = NOW + 3599;
    const late = keyToken(oldPair, oldKey.key_id, { sub: ali.id });
    assert.equal((await whoami(late)).statusCode, 200, 'still inside the grace');
    f.now.value = NOW + 3600;
    const refused = await whoami(late);
    assertRefused(refused, 401, 'key_revoked');
    assert.match(refused.json().error.message, new RegExp(key.key_id));
    assert.equal(await f.keygate.store.revokeDueKeys(f.now.value), 1);
    // The sweep wrote the status: back inside the session's idle time, the list shows it.
    f.now.value = NOW;
    const listed = (await call('GET', '/auth/signing-keys', ali.token)).json().results.keys;
    // Both were made at the same frozen second, so the list's order between them is the id's.
    assert.deepEqual(
      new Map(
        listed.map((k: { key_id: string; status: string; label: string }) => [k.key_id, [k.status, k.label]]),
      ),
      new Map([
        [oldKey.key_id, ['revoked', 'ci']],
        [key.key_id, ['active', 'ci']],
      ]),
    );
  });

  test('grace is 0 to 7 days, a key is rotated once, and a revoked key not at all', async () => {
    const ali = await account();
    const oldKey = await register(ali.token, ecPair());
    const url = `/auth/signing-keys/${oldKey.key_id}/rotate`;
    for (const grace_seconds of [-1, 7 * 86400 + 1, 1.5]) {
      const response = await call('POST', url, ali.token, { public_key: ecPair().publicPem, grace_seconds });
      assert.equal(response.statusCode, 400, response.body);
    }
    const first = await call('POST', url, ali.token, { public_key: ecPair().publicPem, grace_seconds: 0 });
    assert.equal(first.statusCode, 201, first.body);
    assertRefused(
      await call('POST', url, ali.token, { public_key: ecPair().publicPem, grace_seconds: 0 }),
      409,
      'conflict',
    );
    const revokedKey = await register(ali.token, ecPair());
    await call('DELETE', `/auth/signing-keys/${revokedKey.key_id}`, ali.token);
    assertRefused(
      await call('POST', `/auth/signing-keys/${revokedKey.key_id}/rotate`, ali.token, {
        public_key: ecPair().publicPem,
        grace_seconds: 0,
      }),
      409,
      'conflict',
    );
  });

  test('a rotation with a bad replacement changes nothing', async () => {
    const ali = await account();
    const pair = ecPair();
    const oldKey = await register(ali.token, pair);
    const response = await call('POST', `/auth/signing-keys/${oldKey.key_id}/rotate`, ali.token, {
      public_key: 'garbage',
      grace_seconds: 10,
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().error.field, 'public_key');
    const [view] = (await call('GET', '/auth/signing-keys', ali.token)).json().results.keys;
    assert.equal(view.revokes_at, null);
    f.now.value = NOW + 100;
    assert.equal((await whoami(keyToken(pair, oldKey.key_id, { sub: ali.id }))).statusCode, 200);
  });
});

test('key writes share the per-address rate limit of login', async () => {
  const limited = await buildApp(f.keygate, { loginRateLimit: 3 });
  try {
    const ali = await account();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await limited.inject({
        method: 'POST',
        url: '/auth/signing-keys',
        remoteAddress: '10.200.0.1',
        headers: { authorization: `Bearer ${ali.token}` },
        payload: { public_key: 'not a key' },
      });
      statuses.push(response.statusCode);
    }
    assert.deepEqual(statuses, [400, 400, 400, 429]);
  } finally {
    await limited.close();
  }
});
