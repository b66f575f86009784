import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture, NOW } from '../helpers.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'correct horse battery staple';
const EMAIL = 'metrics@example.com';

let f: Fixture;
let app: FastifyInstance;
let userId: string;
let sessionToken: string;

/** Every sample line of the text format, by its name and labels as written. */
function samples(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

async function scrape(headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url: '/metrics', headers });
}

function whoami(token?: string) {
  return app.inject({
    method: 'GET',
    url: '/v1/whoami',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

function login(passHash: string) {
  return app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ user: EMAIL, pass_hash: passHash }),
  });
}

before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate, { loginRateLimit: 1000 });
  userId = (
    await f.keygate.users.create({
      orgId: f.orgId,
      email: EMAIL,
      passHash: sha256(PASSWORD),
      screenName: 'M',
    })
  ).id;
  // A token enters the verified-token cache on its second use, and is answered from it on its third.
  const token = f.token();
  for (let use = 0; use < 3; use++) assert.equal((await whoami(token)).statusCode, 200);
  const expired = await whoami(f.token({ iat: NOW - 7200, exp: NOW - 3600 }));
  assert.equal(expired.json().error.code, 'token_expired');
  const unknown = await whoami(f.token({ kid: randomUUID() }));
  assert.equal(unknown.json().error.code, 'kid_unknown');
  assert.equal((await whoami()).json().error.code, 'token_missing');
  const good = await login(sha256(PASSWORD));
  assert.equal(good.statusCode, 202, good.body);
  sessionToken = good.json().results.token.HY_APP_AUTH_v1;
  assert.equal((await whoami(sessionToken)).statusCode, 200);
  // A minute later the session is seen again: its last-seen time is written, and remembered.
  f.now.value = NOW + 61;
  assert.equal((await whoami(sessionToken)).statusCode, 200);
  f.now.value = NOW;
  assert.equal((await login(sha256('wrong password'))).statusCode, 401);
});
after(async () => {
  await app.close();
  await f.close();
});

test('GET /metrics counts each decision, cache answer, login and refusal exactly', async () => {
  const response = await scrape();
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const values = samples(response.body);
  const expected: Record<string, number> = {
    // The fresh token, its second use (verified again) and its third (from the verified-token cache).
    'keygate_decisions_total{method="key",outcome="accepted"}': 3,
    'keygate_decisions_total{method="key",outcome="token_expired"}': 1,
    'keygate_decisions_total{method="key",outcome="kid_unknown"}': 1,
    'keygate_decisions_total{method="key",outcome="signature_invalid"}': 0,
    'keygate_decisions_total{method="session",outcome="accepted"}': 2,
    'keygate_decisions_total{method="session",outcome="session_revoked"}': 0,
    'keygate_decisions_total{method="unknown",outcome="token_missing"}': 1,
    'keygate_decisions_total{method="unknown",outcome="token_malformed"}': 0,
    'keygate_cache_requests_total{cache="token",result="hit"}': 1,
    'keygate_cache_requests_total{cache="token",result="miss"}': 4,
    // The key is read from the store by the first token, then answered from memory (the second
    // use and the expired token); the unknown kid is read once.
    'keygate_cache_requests_total{cache="key_directory",result="hit"}': 2,
    'keygate_cache_requests_total{cache="key_directory",result="miss"}': 2,
    'keygate_verification_seconds_count{method="key"}': 4,
    'keygate_verification_seconds_count{method="session"}': 2,
    'keygate_logins_total{outcome="accepted"}': 1,
    'keygate_logins_total{outcome="invalid_credentials"}': 1,
    'keygate_logins_total{outcome="throttled"}': 0,
    'keygate_logins_total{outcome="rate_limited"}': 0,
    'keygate_logins_total{outcome="busy"}': 0,
    'keygate_refusals_total{code="invalid_credentials"}': 1,
    'keygate_refusals_total{code="rate_limited"}': 0,
    'keygate_refusals_total{code="busy"}': 0,
    'keygate_refusals_total{code="too_many_connections"}': 0,
    'keygate_store_calls_total{method="getUserByEmail"}': 2,
    'keygate_store_errors_total{method="getUserByEmail"}': 0,
    'keygate_store_call_seconds_count{method="getUserByEmail"}': 2,
    'keygate_key_directory_entries{map="entries"}': 1,
    keygate_token_cache_entries: 1,
    // The session token whoami accepted, and its session, whose last-seen time was written once.
    'keygate_session_memory_entries{map="verified"}': 1,
    'keygate_session_memory_entries{map="touched"}': 1,
    // The fresh token's binding, in the embedded store's memory of recent ones.
    keygate_replay_ledger_memory_entries: 1,
  };
  for (const [sample, value] of Object.entries(expected)) assert.equal(values.get(sample), value, sample);
  // Only the two codes a token of unknown kind can get are listed for it.
  const unknownKinds = [...values.keys()].filter((key) => key.includes('method="unknown"'));
  assert.deepEqual(unknownKinds.sort(), [
    'keygate_decisions_total{method="unknown",outcome="token_malformed"}',
    'keygate_decisions_total{method="unknown",outcome="token_missing"}',
  ]);
  // Buckets are cumulative and end at +Inf with the count.
  assert.equal(values.get('keygate_verification_seconds_bucket{method="key",le="+Inf"}'), 4);
  assert.ok((values.get('keygate_verification_seconds_sum{method="key"}') ?? 0) > 0);
  // prom-client's process metrics, in the same registry.
  assert.ok(values.has('process_resident_memory_bytes'));
  assert.ok(values.has('nodejs_eventloop_lag_seconds'));
});

test('no label of /metrics holds a kid, an organization, a user or a token', async () => {
  const text = (await scrape()).body;
  for (const secret of [f.kid, f.orgId, userId, EMAIL, sessionToken.split('.')[2] as string]) {
    assert.ok(!text.includes(secret), `found ${secret}`);
  }
  const labelNames = new Set<string>();
  for (const match of text.matchAll(/^keygate_\w+\{([^}]*)\}/gm)) {
    for (const pair of (match[1] as string).split(',')) labelNames.add(pair.split('=')[0] as string);
  }
  assert.deepEqual([...labelNames].sort(), ['cache', 'code', 'le', 'map', 'method', 'outcome', 'result']);
});

test('each app counts on its own: another app on another Keygate starts from zero', async () => {
  const other = await fixture();
  const otherApp = await buildApp(other.keygate);
  try {
    const values = samples((await otherApp.inject({ method: 'GET', url: '/metrics' })).body);
    assert.equal(values.get('keygate_decisions_total{method="key",outcome="accepted"}'), 0);
    assert.equal(values.get('keygate_logins_total{outcome="accepted"}'), 0);
  } finally {
    await otherApp.close();
    await other.close();
  }
});

test('with KEYGATE_METRICS_TOKEN, /metrics answers only a scrape that sends it', async () => {
  const token = 'metrics-token-0123456789abcdef';
  const guarded = await buildApp(f.keygate, { metricsToken: token });
  try {
    const get = (authorization?: string) =>
      guarded.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
    for (const sent of [undefined, 'Bearer wrong', `Bearer ${token}x`, token.slice(0, 16)]) {
      const refused = await get(sent);
      assert.equal(refused.statusCode, 403, String(sent));
      assert.equal(refused.json().error.code, 'forbidden');
      assert.equal(refused.json().error.message, 'GET /metrics needs the metrics token.');
    }
    const allowed = await get(`Bearer ${token}`);
    assert.equal(allowed.statusCode, 200);
    assert.match(allowed.body, /^# HELP keygate_decisions_total /m);
  } finally {
    await guarded.close();
  }
});
