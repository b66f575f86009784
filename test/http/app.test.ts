import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { healthRoutes } from '../../src/http/routes/health.ts';
import { type Fixture, fixture } from '../helpers.ts';

let f: Fixture;
let app: FastifyInstance;
before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate);
});
after(async () => {
  await app.close();
  await f.close();
});

const DEBUG = { delta: /^\d+\.\d{6}ms$/, version: 'keygate.0.1.0' };

function assertDebugInfo(body: { debug_info: { delta: string; version: string } }) {
  assert.match(body.debug_info.delta, DEBUG.delta);
  assert.equal(body.debug_info.version, DEBUG.version);
}

test('GET /v1/whoami with a valid token answers the principal in the envelope', async () => {
  for (const authorization of [`Bearer ${f.token()}`, f.token(), `bearer ${f.token()}`]) {
    const response = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization } });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assertDebugInfo(body);
    assert.deepEqual(
      { ...body, debug_info: undefined },
      {
        status: 200,
        results: {
          org_id: f.orgId,
          sub: 'alice',
          role: 'user',
          kid: f.kid,
          method: 'key',
          expires_at: '2027-01-15T09:00:00Z',
        },
        debug_info: undefined,
      },
    );
  }
});

test('401s carry the reason code in the body, in WWW-Authenticate and in X-Keygate-Reason', async () => {
  const cases: [Record<string, string>, string, string][] = [
    [{}, 'token_missing', 'Bearer realm="keygate"'],
    [{ authorization: 'Bearer' }, 'token_missing', 'Bearer realm="keygate"'],
    [
      { authorization: 'Basic abc' },
      'token_malformed',
      'Bearer realm="keygate", error="invalid_token", error_description="token_malformed"',
    ],
    [
      { authorization: f.token({ aud: 'x' }) },
      'aud_mismatch',
      'Bearer realm="keygate", error="invalid_token", error_description="aud_mismatch"',
    ],
  ];
  for (const [headers, code, challenge] of cases) {
    const response = await app.inject({ method: 'GET', url: '/v1/whoami', headers });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['www-authenticate'], challenge);
    assert.equal(response.headers['x-keygate-reason'], code);
    const body = response.json();
    assert.equal(body.status, 401);
    assert.equal(body.error.code, code);
    assert.ok(body.error.message && body.error.hint);
    assertDebugInfo(body);
  }
  const aud = (
    await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: f.token({ aud: 'x' }) } })
  ).json();
  assert.deepEqual(aud.error, {
    code: 'aud_mismatch',
    message: 'The audience (aud) does not name this service.',
    hint: 'Set "aud" to this service\'s audience exactly, as /auth/hello lists it.',
    expected: 'api.happypathology.com or us.api.happypathology.com',
    actual: '"x"',
  });
});

test('two Authorization headers are refused', async () => {
  const token = f.token();
  const response = await app.inject({
    method: 'GET',
    url: '/v1/whoami',
    headers: { authorization: [token, token] as unknown as string },
  });
  assert.equal(response.statusCode, 401);
  assert.equal(response.json().error.code, 'token_malformed');
  assert.match(response.json().error.message, /2 Authorization headers/);
});

test('/auth/hello answers 200 for any token, by GET, by form POST (spec 004) and by JSON body', async () => {
  const token = f.token();
  const requests = [
    { method: 'GET' as const, headers: { authorization: token } },
    {
      method: 'POST' as const,
      headers: { authorization: token, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    },
    {
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ token }),
    },
  ];
  for (const request of requests) {
    const response = await app.inject({ url: '/auth/hello', ...request });
    assert.equal(response.statusCode, 200, response.body);
    const { results } = response.json();
    assert.equal(results.valid, true);
    assert.deepEqual(
      results.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok]),
      [
        ...[
          'token',
          'format',
          'header',
          'alg',
          'kid',
          'key',
          'algorithm',
          'signature',
          'iss',
          'sub',
          'owner',
          'jti',
        ],
        ...['exp', 'iat', 'nbf', 'lifetime', 'aud', 'role', 'replay'],
      ].map((name) => [name, true]),
    );
    assert.deepEqual(results.header, { alg: 'RS256', typ: 'JWT' });
    assert.equal(results.claims.iss, f.orgId);
    assert.equal(results.principal.kid, f.kid);
    assert.deepEqual(results.accepted, {
      audiences: ['api.happypathology.com', 'us.api.happypathology.com'],
      algorithms: ['RS256', 'RS384', 'ES256'],
      leeway_seconds: 60,
      max_lifetime_seconds: 3600,
    });
  }
  for (const authorization of [undefined, 'garbage', f.token({ role: 'admin' })]) {
    const response = await app.inject({
      method: 'GET',
      url: '/auth/hello',
      headers: authorization ? { authorization } : {},
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().results.valid, false);
  }
});

test('health and readiness', async () => {
  const health = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
  assert.deepEqual(health.json().results, { ok: true });
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  assert.deepEqual(ready.json().results, { ok: true, store: 'sqlite' });
});

test('readiness is 503 when the store does not answer; the route needs nothing but the store', async (t) => {
  const bare = Fastify();
  t.after(() => bare.close());
  healthRoutes(bare, { store: { dialect: 'sqlite', ping: () => Promise.reject(new Error('gone')) } });
  const ready = await bare.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  const body: Record<string, unknown> = ready.json();
  assert.deepEqual(
    { ...body, debug_info: undefined },
    {
      status: 503,
      error: {
        code: 'unavailable',
        message: 'The store does not answer.',
        hint: 'Check KEYGATE_DATABASE and that the database is up.',
      },
      debug_info: undefined,
    },
  );
});

test('bad requests get a 4xx envelope, never a 5xx', async () => {
  const cases = [
    { method: 'GET' as const, url: '/nope', status: 404, code: 'not_found' },
    {
      method: 'POST' as const,
      url: '/auth/hello',
      headers: { 'content-type': 'application/json' },
      payload: '{bad',
      status: 400,
      code: 'invalid_request',
    },
    {
      method: 'POST' as const,
      url: '/auth/hello',
      headers: { 'content-type': 'application/json' },
      payload: '{"token":5}',
      status: 400,
      code: 'invalid_request',
    },
    {
      method: 'POST' as const,
      url: '/auth/hello',
      headers: { 'content-type': 'application/xml' },
      payload: '<x/>',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      method: 'POST' as const,
      url: '/auth/hello',
      headers: { 'content-type': 'application/json' },
      payload: '{"__proto__":{"a":1}}',
      status: 400,
      code: 'invalid_request',
    },
    {
      method: 'POST' as const,
      url: '/auth/hello',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ token: 'x'.repeat(70_000) }),
      status: 413,
      code: 'body_too_large',
    },
    { method: 'DELETE' as const, url: '/v1/whoami', status: 404, code: 'not_found' },
  ];
  for (const { status, code, ...request } of cases) {
    const response = await app.inject(request);
    assert.equal(response.statusCode, status, `${request.method} ${request.url}: ${response.body}`);
    const body = response.json();
    assert.equal(body.error.code, code);
    assert.ok(body.error.message && body.error.hint, response.body);
  }
});

test('/docs serves the API reference, built from the route schemas', async () => {
  const ui = await app.inject({ method: 'GET', url: '/docs' });
  assert.ok(ui.statusCode === 200 || ui.statusCode === 302, String(ui.statusCode));
  const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  assert.equal(spec.info.title, 'Keygate');
  for (const path of [
    '/v1/whoami',
    '/auth/hello',
    '/auth/login',
    '/auth/logout',
    '/v1/signatures/verify',
    '/healthz',
    '/readyz',
    '/.well-known/jwks.json',
  ]) {
    assert.ok(spec.paths[path], path);
  }
});
