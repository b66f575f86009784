import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

let f: Fixture;
let app: FastifyInstance;
before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate, { loginRateLimit: 1000 });
});
after(async () => {
  await app.close();
  await f.close();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";
const DOCS_CSP =
  "default-src 'none';script-src 'self';style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=';img-src 'self' data:;font-src 'self' data:;connect-src 'self';base-uri 'none';form-action 'none';frame-ancestors 'none'";

/** helmet's set as configured for an API: everything but HSTS, which is the TLS terminator's. */
function securityHeaders(csp: string) {
  return {
    'content-security-policy': csp,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'strict-transport-security': undefined,
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-powered-by': undefined,
    'x-xss-protection': '0',
  };
}

function pick(headers: Record<string, unknown>, names: string[]) {
  return Object.fromEntries(names.map((name) => [name, headers[name]]));
}

async function headersOf(request: InjectOptions, status: number) {
  const response = await app.inject(request);
  assert.equal(response.statusCode, status, `${request.method} ${request.url}: ${response.body}`);
  return response.headers;
}

test('every answer that can carry a token, a principal or a refusal has no-store and the API security headers', async () => {
  const email = 'headers@example.com';
  await f.keygate.users.create({ orgId: f.orgId, email, passHash: sha256('pw'), screenName: 'H' });
  const json = { 'content-type': 'application/json' };
  const requests: [InjectOptions, number][] = [
    [
      {
        method: 'POST',
        url: '/auth/login',
        headers: json,
        payload: { user: email, pass_hash: sha256('pw') },
      },
      202,
    ],
    [
      {
        method: 'POST',
        url: '/auth/login',
        headers: json,
        payload: { user: email, pass_hash: sha256('no') },
      },
      401,
    ],
    [{ method: 'POST', url: '/auth/login', headers: json, payload: { user: email, pass_hash: 'x' } }, 400],
    [{ method: 'GET', url: '/auth/hello', headers: { authorization: f.token() } }, 200],
    [{ method: 'POST', url: '/auth/hello', headers: json, payload: { token: f.token() } }, 200],
    [{ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${f.token()}` } }, 200],
    [{ method: 'GET', url: '/v1/whoami' }, 401],
    [{ method: 'POST', url: '/auth/logout' }, 401],
    [{ method: 'GET', url: '/healthz' }, 200],
    [{ method: 'GET', url: '/readyz' }, 200],
    [{ method: 'GET', url: '/nope' }, 404],
    [
      { method: 'POST', url: '/auth/hello', headers: { 'content-type': 'application/xml' }, payload: '<x/>' },
      415,
    ],
    [{ method: 'GET', url: `/v1/whoami?access_token=${f.token()}` }, 400],
  ];
  for (const [request, status] of requests) {
    const headers = await headersOf(request, status);
    const expected = { ...securityHeaders(API_CSP), 'cache-control': 'no-store' };
    assert.deepEqual(pick(headers, Object.keys(expected)), expected, `${request.method} ${request.url}`);
  }
});

test('a path that is not valid percent-encoding is a 400 envelope with no-store and nosniff, though no hook runs', async () => {
  const response = await app.inject({ method: 'GET', url: '/v1/%zz' });
  assert.equal(response.statusCode, 400);
  assert.equal(response.json().error.code, 'invalid_request');
  assert.deepEqual(
    pick(response.headers, ['cache-control', 'x-content-type-options', 'content-security-policy']),
    {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    },
  );
});

test('the JWK Set may be cached five minutes, but a refusal on its path may not', async () => {
  const jwks = await headersOf({ method: 'GET', url: '/.well-known/jwks.json' }, 200);
  assert.equal(jwks['cache-control'], 'public, max-age=300');
  assert.equal(jwks['x-content-type-options'], 'nosniff');
  const refused = await headersOf({ method: 'GET', url: '/.well-known/jwks.json?token=x' }, 400);
  assert.equal(refused['cache-control'], 'no-store');
});

test('the API reference gets a CSP that lets swagger-ui run from this origin only; its static files revalidate', async () => {
  for (const url of ['/docs', '/docs/', '/docs/json']) {
    const headers = await headersOf({ method: 'GET', url }, 200);
    const expected = { ...securityHeaders(DOCS_CSP), 'cache-control': 'no-store' };
    assert.deepEqual(pick(headers, Object.keys(expected)), expected, url);
  }
  for (const url of ['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css']) {
    const headers = await headersOf({ method: 'GET', url }, 200);
    assert.equal(headers['cache-control'], 'public, max-age=0', url);
    assert.equal(headers['x-content-type-options'], 'nosniff', url);
    assert.ok(headers.etag, url);
  }
});
