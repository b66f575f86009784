import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

let f: Fixture;
let app: FastifyInstance;
const lines: string[] = [];
before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate, {
    loginRateLimit: 1000,
    logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } },
  });
});
after(async () => {
  await app.close();
  await f.close();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const TOKEN_HINT =
  'Send the token in the Authorization header ("Bearer <jwt>"); /auth/hello also reads a "token" field in a JSON body.';
const PASSWORD_HINT =
  'Send user and pass_hash in the JSON body of POST /auth/login. A URL is kept by proxies and browser history: change this password.';
const SECRET_HINT = 'Send credentials in the Authorization header or a JSON body, never in a URL.';

function refusal(parameter: string, hint: string) {
  return {
    status: 400,
    error: {
      code: 'invalid_request',
      message: `The query parameter "${parameter}" carries a credential; credentials are never accepted in a URL.`,
      hint,
      field: parameter,
    },
  };
}

function withoutDebugInfo(body: { debug_info: { delta: string } }) {
  assert.match(body.debug_info.delta, /^\d+\.\d{6}ms$/);
  const { debug_info: _, ...rest } = body;
  return rest;
}

test('a credential in the query is refused on every route, before the handler, naming the parameter and its place', async (t) => {
  const login = t.mock.method(f.keygate.sessions, 'login');
  const token = f.token();
  const passHash = sha256('correct horse battery staple');
  const cases = [
    ['GET', `/v1/whoami?access_token=${token}`, 'access_token', TOKEN_HINT],
    ['GET', `/auth/hello?token=${token}`, 'token', TOKEN_HINT],
    ['POST', `/auth/hello?JWT=${token}`, 'JWT', TOKEN_HINT],
    ['POST', `/auth/logout?id_token=${token}`, 'id_token', TOKEN_HINT],
    ['GET', `/healthz?x=1&Access-Token=${token}`, 'Access-Token', TOKEN_HINT],
    ['GET', `/nope?HY_APP_AUTH_v1=${token}`, 'HY_APP_AUTH_v1', TOKEN_HINT],
    ['POST', `/auth/login?user=query%40example.com&pass_hash=${passHash}`, 'pass_hash', PASSWORD_HINT],
    ['POST', '/auth/login?user=query%40example.com&password=hunter2', 'password', PASSWORD_HINT],
    ['GET', '/.well-known/jwks.json?api_key=k-123', 'api_key', SECRET_HINT],
    ['GET', '/docs/json?client_secret=s-123', 'client_secret', SECRET_HINT],
    // Percent-encoded names are decoded before they are compared.
    ['GET', `/v1/whoami?access%5Ftoken=${token}`, 'access_token', TOKEN_HINT],
  ] as const;
  for (const [method, url, parameter, hint] of cases) {
    const response = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(method === 'POST' && { payload: '{}' }),
    });
    assert.equal(response.statusCode, 400, `${method} ${url}: ${response.body}`);
    assert.deepEqual(withoutDebugInfo(response.json()), refusal(parameter, hint), url);
    assert.equal(response.headers['cache-control'], 'no-store', url);
  }
  // The logins above were refused before the handler.
  assert.equal(login.mock.callCount(), 0);
});

test('other query parameters pass', async () => {
  for (const url of [
    '/healthz?verbose=1',
    '/healthz?',
    '/healthz?user=ali%40example.com',
    '/healthz?tokens=3',
  ]) {
    const response = await app.inject({ method: 'GET', url });
    assert.equal(response.statusCode, 200, url);
  }
});

test('the server log never holds a query value, a token or a pass_hash sent in a URL', async () => {
  lines.length = 0;
  const token = f.token();
  const passHash = sha256('correct horse battery staple');
  await app.inject({ method: 'GET', url: `/v1/whoami?access_token=${token}` });
  await app.inject({
    method: 'POST',
    url: `/auth/login?user=query%40example.com&pass_hash=${passHash}`,
    headers: { 'content-type': 'application/json' },
    payload: '{}',
  });
  // Unknown parameter names and bare keys are not written either: a token can be a name.
  await app.inject({ method: 'GET', url: `/nope?${token}` });
  await app.inject({ method: 'GET', url: '/healthz?color=zz-secret-value' });
  await app.inject({ method: 'GET', url: `/v1/%zz?access_token=${token}` });
  const log = lines.join('');
  for (const secret of [
    token,
    token.split('.')[2] as string,
    passHash,
    'query%40example.com',
    'zz-secret-value',
  ]) {
    assert.ok(!log.includes(secret), `the log holds ${secret.slice(0, 20)}...`);
  }
  const urls = lines
    .map((line) => JSON.parse(line) as { req?: { url: string } })
    .flatMap((entry) => (entry.req ? [entry.req.url] : []));
  assert.deepEqual(urls, ['/v1/whoami?***', '/auth/login?***', '/nope?***', '/healthz?***', '/v1/%zz?***']);
});
