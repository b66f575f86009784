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
