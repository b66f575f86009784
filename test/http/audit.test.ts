import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { isoTime } from '../../src/core/time.ts';
import { buildApp } from '../../src/http/app.ts';
import { AUD, ecPair, type Fixture, fixture, NOW, signJwt, type TestPair } from '../helpers.ts';

// GET /auth/audit on a frozen clock: an admin of the organization reads its trail (changes by
// the operator, by users and by admin keys; logins and their failures), nobody else does, and
// the query is checked.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'correct horse battery staple';
const ADDRESS = '198.51.100.7';

let f: Fixture;
let app: FastifyInstance;

beforeEach(async () => {
  f = await fixture();
  app = await buildApp(f.keygate, { loginRateLimit: 1000 });
});
afterEach(async () => {
  await app.close();
  await f.close();
});

async function account(role: string, orgId = f.orgId) {
  const email = `${role}-${randomUUID().slice(0, 8)}@example.com`;
  const user = await f.keygate.users.create({ orgId, email, passHash: sha256(PASSWORD), role });
  const response = await login(email, PASSWORD);
  assert.equal(response.statusCode, 202, response.body);
  return { id: user.id, email, token: response.json().results.token.HY_APP_AUTH_v1 as string };
}

function login(email: string, password: string, remoteAddress = ADDRESS) {
  return app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress,
    payload: { user: email, pass_hash: sha256(password) },
  });
}

function get(url: string, token: string) {
  return app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
}

function keyToken(pair: TestPair, kid: string, role: string): string {
  return signJwt(
    { alg: 'ES256', typ: 'JWT', kid },
    { jti: randomUUID(), iss: f.orgId, iat: NOW, exp: NOW + 600, aud: AUD, sub: 'deploy-bot', role },
    pair.privateKey,
  );
}

/** The trail as (actor, action, target, detail) rows, oldest first. */
async function trail(token: string, query = '') {
  const response = await get(`/auth/audit${query}`, token);
  assert.equal(response.statusCode, 200, response.body);
  const events = response.json().results.events as {
    at: string;
    actor: object;
    action: string;
    target: string | null;
    detail: object;
  }[];
  return events.toReversed().map(({ actor, action, target, detail }) => [actor, action, target, detail]);
}

test("an admin reads the organization's trail: the operator's changes, logins, and keys registered over HTTP", async () => {
  const admin = await account('admin');
  const pair = ecPair();
  const registered = await app.inject({
    method: 'POST',
    url: '/auth/signing-keys',
    headers: { authorization: `Bearer ${admin.token}` },
    payload: { public_key: pair.publicPem, roles: ['admin'], label: 'deploy' },
  });
  assert.equal(registered.statusCode, 201, registered.body);
  const { key_id: kid, fingerprint } = registered.json().results;
  const response = await get('/auth/audit', admin.token);
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json();
  assert.equal(body.results.next_before, null);
  assert.equal(body.results.events.length, 5);
  assert.deepEqual(body.results.events[0], {
    id: body.results.events[1].id + 1,
    at: isoTime(NOW),
    org_id: f.orgId,
    actor: { type: 'user', id: admin.id },
    action: 'key.registered',
    target: kid,
    detail: {
      fingerprint,
      roles: 'admin',
      default_role: 'admin',
      owner_user_id: null,
      label: 'deploy',
      expires_at: null,
    },
  });
  assert.deepEqual((await trail(admin.token)).slice(0, 4), [
    [{ type: 'operator' }, 'org.created', f.orgId, { name: 'Test Org' }],
    [
      { type: 'operator' },
      'key.registered',
      f.kid,
      {
        fingerprint: (await f.keygate.store.getKey(f.kid))?.thumbprint,
        roles: 'user,device,service',
        default_role: 'user',
        owner_user_id: null,
        label: null,
        expires_at: null,
      },
    ],
    [{ type: 'operator' }, 'user.created', admin.id, { email: admin.email, role: 'admin' }],
    [{ type: 'user', id: admin.id }, 'login.succeeded', admin.id, { address: ADDRESS }],
  ]);
});

test('an admin key-pair token reads the trail, and its changes are recorded as the key', async () => {
  const admin = await account('admin');
  const pair = ecPair();
  const registered = await app.inject({
    method: 'POST',
    url: '/auth/signing-keys',
    headers: { authorization: `Bearer ${admin.token}` },
    payload: { public_key: pair.publicPem, roles: ['admin'] },
  });
  const kid = registered.json().results.key_id as string;
  const revoked = await app.inject({
    method: 'DELETE',
    url: `/auth/signing-keys/${f.kid}`,
    headers: { authorization: `Bearer ${keyToken(pair, kid, 'admin')}` },
  });
  assert.equal(revoked.statusCode, 200, revoked.body);
  const rows = await trail(keyToken(pair, kid, 'admin'));
  assert.deepEqual(rows.at(-1), [{ type: 'key', kid }, 'key.revoked', f.kid, { from: 'active' }]);
});

test('a user who is not an admin, and a key-pair token without the admin role, are refused with 403', async () => {
  const user = await account('user');
  const userRefusal = await get('/auth/audit', user.token);
  assert.equal(userRefusal.statusCode, 403, userRefusal.body);
  assert.deepEqual(userRefusal.json().error, {
    code: 'forbidden',
    field: 'authorization',
    message: 'The audit trail is for administrators; this token acts with the role "user".',
    hint: 'Log in as a user with the role "admin", or sign a token with the role "admin" with an admin key.',
  });
  const service = await get('/auth/audit', f.token({ role: 'service' }));
  assert.equal(service.statusCode, 403, service.body);
  assert.equal(service.json().error.code, 'forbidden');
  assert.equal((await app.inject({ method: 'GET', url: '/auth/audit' })).statusCode, 401);
});

test("failed logins are recorded without the name or the password; another organization's events stay out", async () => {
  const admin = await account('admin');
  const stranger = await f.keygate.keys.createOrg('Other Org');
  await account('admin', stranger.id);
  assert.equal((await login(admin.email, 'wrong password, twice over')).statusCode, 401);
  assert.equal((await login('nobody@example.com', 'correct horse battery staple')).statusCode, 401);
  const rows = await trail(admin.token, '?since=2020-01-01');
  assert.deepEqual(rows.slice(4), [
    [{ type: 'anonymous' }, 'login.failed', admin.id, { reason: 'wrong_password', address: ADDRESS }],
  ]);
  const events = await f.keygate.audit.list({ limit: 500 });
  const everything = JSON.stringify(events);
  assert.doesNotMatch(everything, /nobody@example\.com/);
  assert.ok(!everything.includes(sha256('wrong password, twice over')));
  // The unknown name's failure is kept, under no organization.
  assert.deepEqual(
    events.filter((event) => event.orgId === null).map(({ id: _, ...event }) => event),
    [
      {
        at: NOW,
        orgId: null,
        actor: { type: 'anonymous' },
        action: 'login.failed',
        target: null,
        detail: { reason: 'unknown_user', address: ADDRESS },
      },
    ],
  );
});

test('failed logins that start a throttle wait record user.locked once', async () => {
  const admin = await account('admin');
  const victim = await account('user');
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 7; attempt++)
    statuses.push((await login(victim.email, 'not the password', '203.0.113.9')).statusCode);
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 401]);
  const rows = (await trail(admin.token, '?limit=500')).filter(([, , target]) => target === victim.id);
  const actions = rows.map(([, action, , detail]) =>
    action === 'login.failed' ? `failed:${(detail as { reason: string }).reason}` : action,
  );
  assert.deepEqual(actions, [
    'user.created',
    'login.succeeded',
    ...Array(5).fill('failed:wrong_password'),
    'user.locked',
    'failed:throttled',
    'failed:throttled',
  ]);
  assert.deepEqual(rows.find(([, action]) => action === 'user.locked')?.[3], {
    scope: 'address',
    address: '203.0.113.9',
    until: NOW + 30,
  });
});

test('pages go back with before; since and limit narrow; bad values are refused by name', async () => {
  const admin = await account('admin');
  const first = (await get('/auth/audit?limit=2', admin.token)).json().results;
  assert.equal(first.events.length, 2);
  const second = (await get(`/auth/audit?limit=2&before=${first.next_before}`, admin.token)).json().results;
  assert.deepEqual(
    [...first.events, ...second.events].map((event: { action: string }) => event.action),
    ['login.succeeded', 'user.created', 'key.registered', 'org.created'],
  );
  assert.equal(second.next_before, second.events[1].id);
  f.now.value = NOW + 1200;
  assert.deepEqual(await trail(admin.token, '?since=10m'), []);
  assert.deepEqual(
    (await trail(admin.token, '?since=1h')).map(([, action]) => action),
    ['org.created', 'key.registered', 'user.created', 'login.succeeded'],
  );
  for (const [query, field, message] of [
    [
      'since=yesterday',
      'since',
      `"since" must be an ISO 8601 time (2026-05-01 or 2026-05-01T12:00:00Z) or a duration back from now (30m, 1h, 7d, 2w).`,
    ],
    ['limit=0', 'limit', '"limit" must be a whole number from 1 to 500.'],
    ['limit=501', 'limit', '"limit" must be a whole number from 1 to 500.'],
    ['before=-3', 'before', '"before" must be an event id (next_before of the previous page).'],
  ]) {
    const response = await get(`/auth/audit?${query}`, admin.token);
    assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
    const error = response.json().error;
    assert.deepEqual([error.code, error.field, error.message], ['invalid_input', field, message], query);
  }
});
