import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'correct horse battery staple';
const EMAIL = 'logged@example.com';
const GENERATED_ID = /^[A-Za-z0-9_-]{8}-[0-9a-z]+$/;

let f: Fixture;

before(async () => {
  f = await fixture();
  await f.keygate.users.create({ orgId: f.orgId, email: EMAIL, passHash: sha256(PASSWORD), screenName: 'L' });
});
after(() => f.close());

/** An app whose log lines are kept, as written, in `raw`. */
async function loggedApp(
  accessLog: boolean,
  level = 'info',
): Promise<{ app: FastifyInstance; raw: string[] }> {
  const raw: string[] = [];
  const app = await buildApp(f.keygate, {
    loginRateLimit: 1000,
    accessLog,
    logger: { level, stream: { write: (line: string) => raw.push(line) } },
  });
  return { app, raw };
}

async function traffic(app: FastifyInstance) {
  const passHash = sha256(PASSWORD);
  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress: '10.9.8.7',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ user: EMAIL, pass_hash: passHash }),
  });
  assert.equal(login.statusCode, 202, login.body);
  const session = login.json().results.token.HY_APP_AUTH_v1 as string;
  const keyToken = f.token();
  const answers = [
    login,
    await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${keyToken}` } }),
    await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: session } }),
    await app.inject({ method: 'GET', url: `/v1/whoami?token=${keyToken}` }),
    await app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${f.token({ aud: 'other' })}` },
    }),
    await app.inject({ method: 'GET', url: '/no/such/path/secret-in-path' }),
  ];
  return { answers, secrets: [passHash, PASSWORD, session, keyToken, keyToken.split('.')[2] as string] };
}

test('with KEYGATE_ACCESS_LOG, one line per request with its fields, and no secret anywhere in the log', async () => {
  const { app, raw } = await loggedApp(true);
  try {
    const { answers, secrets } = await traffic(app);
    const lines = raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = lines.filter((line) => line.msg === 'request');
    assert.equal(requests.length, answers.length);
    assert.equal(lines.length, answers.length, raw.join(''));
    const fields = requests.map(({ method, route, status, code, remoteAddress }) => ({
      method,
      route,
      status,
      code,
      remoteAddress,
    }));
    assert.deepEqual(fields, [
      { method: 'POST', route: '/auth/login', status: 202, code: null, remoteAddress: '10.9.8.7' },
      { method: 'GET', route: '/v1/whoami', status: 200, code: null, remoteAddress: '127.0.0.1' },
      { method: 'GET', route: '/v1/whoami', status: 200, code: null, remoteAddress: '127.0.0.1' },
      {
        method: 'GET',
        route: '/v1/whoami',
        status: 400,
        code: 'invalid_request',
        remoteAddress: '127.0.0.1',
      },
      { method: 'GET', route: '/v1/whoami', status: 401, code: 'aud_mismatch', remoteAddress: '127.0.0.1' },
      { method: 'GET', route: null, status: 404, code: 'not_found', remoteAddress: '127.0.0.1' },
    ]);
    requests.forEach((line, i) => {
      assert.equal(line.level, 30);
      assert.equal(typeof line.ms, 'number');
      assert.equal(line.reqId, answers[i]?.headers['x-request-id']);
      assert.match(String(line.reqId), GENERATED_ID);
    });
    const log = raw.join('');
    for (const secret of secrets) assert.ok(!log.includes(secret), 'a secret is in the log');
    assert.ok(!log.includes('secret-in-path'));
    assert.ok(!/authorization/i.test(log));
  } finally {
    await app.close();
  }
});

test('without KEYGATE_ACCESS_LOG, a request writes no line at all', async () => {
  const { app, raw } = await loggedApp(false);
  try {
    await traffic(app);
    assert.deepEqual(raw, []);
  } finally {
    await app.close();
  }
});

test('X-Request-Id: a short plain one is echoed and logged; anything else is replaced by a generated one', async () => {
  const { app, raw } = await loggedApp(true);
  try {
    const kept = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'edge-42.a:b_c' },
    });
    assert.equal(kept.headers['x-request-id'], 'edge-42.a:b_c');
    const refused = await app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { 'x-request-id': 'edge-43' },
    });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['x-request-id'], 'edge-43');
    const bad = ['x'.repeat(65), 'a b', '"},{"level":60', '<script>', ''];
    const replaced = [];
    for (const sent of bad) {
      const response = await app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'x-request-id': sent },
      });
      const echoed = String(response.headers['x-request-id']);
      assert.match(echoed, GENERATED_ID, JSON.stringify(sent));
      replaced.push(echoed);
    }
    assert.equal(new Set(replaced).size, bad.length);
    const ids = raw.map((line) => (JSON.parse(line) as { reqId: string }).reqId);
    assert.deepEqual(ids, ['edge-42.a:b_c', 'edge-43', ...replaced]);
  } finally {
    await app.close();
  }
});

test('at debug level each request is logged as read and as answered, still without a secret', async () => {
  const { app, raw } = await loggedApp(false, 'debug');
  const { answers, secrets } = await traffic(app);
  const lines = raw.map((line) => JSON.parse(line) as { msg?: string; req?: { url?: string } });
  assert.equal(lines.filter((line) => line.msg === 'incoming request').length, answers.length);
  assert.equal(lines.filter((line) => line.msg === 'request completed').length, answers.length);
  assert.deepEqual(
    lines.filter((line) => line.msg === 'incoming request').map((line) => line.req?.url),
    // A query's values are masked: the third request put a token there.
    [
      '/auth/login',
      '/v1/whoami',
      '/v1/whoami',
      '/v1/whoami?***',
      '/v1/whoami',
      '/no/such/path/secret-in-path',
    ],
  );
  for (const secret of secrets) assert.ok(!raw.join('').includes(secret), 'a secret was logged');
  await app.close();
});
