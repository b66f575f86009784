import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { HEALTH_RESPONSES, healthRoutes } from '../../src/http/routes/health.ts';
import { SchemaCompilers } from '../../src/http/schema-compilers.ts';

// The probes write their answers with JSON.stringify (routes/health.ts says why): byte for byte
// what the schema serializer every other route uses makes of them.

const schemaSerializer = (schema: unknown) => {
  const compile = new SchemaCompilers().factories.buildSerializer?.({}, {});
  assert.ok(compile);
  return compile({ schema, method: 'GET', url: '/', httpStatus: '200' });
};

test('/healthz and /readyz answer exactly what their schemas serialize, up or down', async (t) => {
  for (const [dialect, ping, url, status, schema] of [
    ['sqlite', () => Promise.resolve(), '/healthz', 200, HEALTH_RESPONSES.healthz[200]],
    ['sqlite', () => Promise.resolve(), '/readyz', 200, HEALTH_RESPONSES.readyz[200]],
    ['sqlite', () => Promise.reject(new Error('gone')), '/readyz', 503, HEALTH_RESPONSES.readyz[503]],
  ] as const) {
    const app = Fastify();
    t.after(() => app.close());
    healthRoutes(app, { store: { dialect, ping } });
    const answer = await app.inject({ method: 'GET', url });
    assert.equal(answer.statusCode, status);
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(schemaSerializer(schema)(answer.json()), answer.body, `${url} ${status}`);
  }
});

test('/readyz with Redis configured: connected, or 503 redis_unavailable saying why; the store is asked first', async (t) => {
  const up = () => Promise.resolve();
  const why = () =>
    Promise.reject(Object.assign(new Error('raw'), { reason: 'Redis did not answer within 1000 ms' }));
  const cases = [
    { store: up, redis: up, status: 200, results: { ok: true, store: 'postgres', redis: 'connected' } },
    {
      store: up,
      redis: why,
      status: 503,
      error: {
        code: 'redis_unavailable',
        message: 'Redis cannot serve: Redis did not answer within 1000 ms.',
        hint: 'Check that Redis at KEYGATE_REDIS_URL is up and reachable from this node; Keygate reconnects by itself.',
      },
    },
    {
      store: () => Promise.reject(new Error('gone')),
      redis: why,
      status: 503,
      error: {
        code: 'unavailable',
        message: 'The store does not answer.',
        hint: 'Check KEYGATE_DATABASE and that the database is up.',
      },
    },
  ];
  for (const { store, redis, status, ...expected } of cases) {
    const app = Fastify();
    t.after(() => app.close());
    healthRoutes(app, { store: { dialect: 'postgres', ping: store }, redis: { ping: redis } });
    const answer = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(answer.statusCode, status);
    const { debug_info: _, ...body } = answer.json();
    assert.deepEqual(body, { status, ...expected });
    const schema = HEALTH_RESPONSES.readyz[status as 200 | 503];
    assert.equal(schemaSerializer(schema)(answer.json()), answer.body, `${status}`);
  }
});
