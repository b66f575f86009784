import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES } from '../../src/core/error-codes.ts';
import { buildApp } from '../../src/http/app.ts';
import { startKeygate } from '../../src/service/keygate.ts';
import { AUD, fixture, NOW, POLICY, rsaPair, signJwt } from '../helpers.ts';
import { type TestRedis, withTestRedis } from '../store/redis-test-server.ts';
import { TcpProxy } from '../store/tcp-proxy.ts';

// Servers built with KEYGATE_REDIS_URL set, against the Redis KEYGATE_TEST_REDIS_URL names: the
// replay ledger and the login rate limits are there, shared by every node, and a Redis that
// cannot serve is a 503 redis_unavailable, never a 500 and never an accepted token.

const whoami = (app: FastifyInstance, token: string) =>
  app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });
const hello = (app: FastifyInstance, token: string) =>
  app.inject({ method: 'GET', url: '/auth/hello', headers: { authorization: `Bearer ${token}` } });
const login = (app: FastifyInstance) =>
  app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress: '192.0.2.7',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ user: 'nobody@example.com', pass_hash: 'a'.repeat(64) }),
  });

/** The error part of an answer: what a client is told. */
const errorOf = (response: { json(): unknown }) => (response.json() as { error: unknown }).error;

const REDIS_UNAVAILABLE = {
  code: 'redis_unavailable',
  message: ERROR_CODES.redis_unavailable.message,
  hint: ERROR_CODES.redis_unavailable.hint,
};

/** Polls /readyz until it is 200, and returns how long that took. */
async function readyAgain(app: FastifyInstance, withinMs: number): Promise<number> {
  const started = performance.now();
  while ((await app.inject({ url: '/readyz' })).statusCode !== 200) {
    assert.ok(performance.now() - started < withinMs, `ready again within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

await withTestRedis('Redis behind the HTTP API', (redis) => {
  oneNode(redis);
  twoNodes(redis);
  outages(redis);
});

function oneNode(redis: TestRedis): void {
  test('a fresh token is accepted once; another token with its (iss, jti) is jti_reused; the binding is in Redis', async (t) => {
    const prefix = redis.newPrefix();
    const f = await fixture({ redis: { url: redis.url, prefix } });
    const app = await buildApp(f.keygate);
    t.after(() => app.close().then(() => f.close()));

    const token = f.token({ jti: 'once' });
    assert.equal((await whoami(app, token)).statusCode, 200);
    assert.equal((await whoami(app, token)).statusCode, 200, 'the same token, again (bearer semantics)');
    const other = f.token({ jti: 'once', sub: 'mallory' });
    const refused = await whoami(app, other);
    assert.equal(refused.statusCode, 401);
    assert.equal((errorOf(refused) as { code: string }).code, 'jti_reused');
    const report = (await hello(app, other)).json().results;
    assert.deepEqual([report.valid, report.code], [false, 'jti_reused'], '/auth/hello peeks in Redis too');

    assert.deepEqual(await redis.keys(`${prefix}jti:`), [`${prefix}jti:${f.orgId.length}:${f.orgId}:once`]);
    assert.equal(
      await f.keygate.store.peekJti(f.orgId, 'once', 'x', NOW),
      'bound',
      'the store holds no binding',
    );
    assert.deepEqual((await app.inject({ url: '/readyz' })).json().results, {
      ok: true,
      store: 'sqlite',
      redis: 'connected',
    });
  });
}

function twoNodes(redis: TestRedis): void {
  test('two nodes on one store and one Redis: one (iss, jti) sent with different tokens to both at once is accepted once', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-redis-'));
    const prefix = redis.newPrefix();
    const options = {
      database: join(dir, 'keygate.db'),
      secret: randomBytes(32),
      policy: POLICY,
      clock: () => NOW,
      redis: { url: redis.url, prefix },
    };
    const nodes = [await startKeygate(options), await startKeygate(options)];
    const apps = await Promise.all(nodes.map((node) => buildApp(node, { loginRateLimit: 3 })));
    t.after(async () => {
      for (const app of apps) await app.close();
      for (const node of nodes) await node.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const [a, b] = apps as [FastifyInstance, FastifyInstance];
    const pair = rsaPair();
    const org = await nodes[0]?.keys.createOrg('Two Nodes');
    const key = await nodes[0]?.keys.registerKey({
      orgId: org?.id as string,
      publicKey: pair.publicPem,
      grantedByAdmin: true,
    });
    const token = (jti: string, sub: string) =>
      signJwt(
        { alg: 'RS256', typ: 'JWT' },
        { aud: AUD, exp: NOW + 600, iat: NOW, iss: org?.id, jti, sub, role: 'user', kid: key?.key_id },
        pair.privateKey,
      );

    for (let i = 0; i < 10; i++) {
      const answers = await Promise.all([
        whoami(a, token(`both-${i}`, 'alice')),
        whoami(b, token(`both-${i}`, 'bob')),
      ]);
      const statuses = answers.map((answer) => answer.statusCode).sort();
      assert.deepEqual(statuses, [200, 401], `jti both-${i}`);
      const loser = answers.find((answer) => answer.statusCode === 401);
      assert.equal((loser && (errorOf(loser) as { code: string }).code) ?? '', 'jti_reused');
    }

    // Three attempts a minute per address, counted across both nodes.
    const statuses = [];
    for (const app of [a, b, a, b]) statuses.push((await login(app)).statusCode);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.equal((await redis.keys(`${prefix}rate:`)).length, 1, 'one counter, in Redis');
  });
}

function outages(redis: TestRedis): void {
  test('Redis down: fresh tokens, /auth/hello and logins get 503 redis_unavailable at once; /readyz says why', async (t) => {
    const proxy = await TcpProxy.start(redis.url);
    await proxy.cut();
    const f = await fixture({ redis: { url: proxy.url, prefix: redis.newPrefix(), timeoutMs: 300 } });
    const app = await buildApp(f.keygate);
    t.after(() => app.close().then(() => f.close()));

    for (const [what, call] of [
      ['a fresh token', () => whoami(app, f.token())],
      ['/auth/hello', () => hello(app, f.token())],
      ['a login', () => login(app)],
    ] as const) {
      const started = performance.now();
      const response = await call();
      const ms = performance.now() - started;
      assert.equal(response.statusCode, 503, `${what}: ${response.body}`);
      assert.equal(response.headers['retry-after'], '1', what);
      assert.deepEqual(errorOf(response), REDIS_UNAVAILABLE, what);
      assert.ok(ms < 200, `${what}: answered after ${ms.toFixed(1)} ms, without waiting for Redis`);
      t.diagnostic(`${what}: 503 after ${ms.toFixed(1)} ms`);
    }
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(errorOf(ready), {
      code: 'redis_unavailable',
      message:
        'Redis cannot serve: Keygate is not connected to Redis (the connection was refused); reconnecting.',
      hint: 'Check that Redis at KEYGATE_REDIS_URL is up and reachable from this node; Keygate reconnects by itself.',
    });
    await proxy.close();
  });

  test('Redis gone, hung and back: 503 while it cannot serve, and the node recovers by itself', async (t) => {
    const proxy = await TcpProxy.start(redis.url);
    const f = await fixture({ redis: { url: proxy.url, prefix: redis.newPrefix(), timeoutMs: 300 } });
    const app = await buildApp(f.keygate);
    t.after(() =>
      app
        .close()
        .then(() => f.close())
        .then(() => proxy.close()),
    );
    const first = f.token({ jti: 'first' });
    // Its second use admits it to the verified-token cache.
    for (let use = 0; use < 2; use++) assert.equal((await whoami(app, first)).statusCode, 200);

    await proxy.cut();
    const whileDown = f.token({ jti: 'while-down' });
    assert.deepEqual(errorOf(await whoami(app, whileDown)), REDIS_UNAVAILABLE);
    assert.equal(
      (await whoami(app, first)).statusCode,
      200,
      'a token already cached is still served from memory',
    );
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 503);
    await proxy.restore();
    t.diagnostic(`ready ${(await readyAgain(app, 3000)).toFixed(0)} ms after Redis came back`);
    assert.equal(
      (await whoami(app, whileDown)).statusCode,
      200,
      'refused while down, so never recorded: accepted now',
    );

    proxy.stall();
    const started = performance.now();
    const hung = await whoami(app, f.token({ jti: 'while-hung' }));
    const ms = performance.now() - started;
    assert.deepEqual(errorOf(hung), REDIS_UNAVAILABLE);
    assert.ok(ms >= 290 && ms < 1500, `answered after ${ms.toFixed(0)} ms (KEYGATE_REDIS_TIMEOUT_MS 300)`);
    t.diagnostic(`Redis hung: 503 after ${ms.toFixed(1)} ms`);
    proxy.resume();
    const replay = await whoami(app, f.token({ jti: 'first', sub: 'mallory' }));
    assert.equal(
      (errorOf(replay) as { code: string }).code,
      'jti_reused',
      'what was bound before the outage holds',
    );
  });
}
