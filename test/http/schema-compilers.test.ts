import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { SchemaCompilers } from '../../src/http/schema-compilers.ts';
import { fixture } from '../helpers.ts';

const AJV = { customOptions: { coerceTypes: false, removeAdditional: false } };

/** One route with a body, a params and two response schemas, under the given compilers. */
function echoApp(compilers?: SchemaCompilers): FastifyInstance {
  const app = Fastify({
    ajv: AJV,
    ...(compilers && { schemaController: { compilersFactory: compilers.factories } }),
  });
  app.post(
    '/echo/:id',
    {
      schema: {
        params: Type.Object({ id: Type.String({ pattern: '^[a-z]+$' }) }),
        body: Type.Object({
          n: Type.Integer({ minimum: 1 }),
          tags: Type.Optional(Type.Array(Type.String())),
        }),
        response: {
          200: Type.Object({ id: Type.String(), n: Type.Integer() }),
          400: Type.Object({ message: Type.String() }),
        },
      },
    },
    async (request) => ({ ...(request.body as object), ...(request.params as object), secret: 'dropped' }),
  );
  return app;
}

test('every route schema of the app compiles, as Fastify checked at start before they were compiled on first use', async () => {
  const f = await fixture();
  const compilers = new SchemaCompilers();
  const app = await buildApp(f.keygate, { schemaCompilers: compilers });
  try {
    await app.ready();
    assert.ok(compilers.uncompiled > 20, `only ${compilers.uncompiled} schemas waiting`);
    compilers.compileAll();
    assert.equal(compilers.uncompiled, 0);
  } finally {
    await app.close();
    await f.close();
  }
});

test('a schema Fastify would refuse at start is refused by compileAll', async () => {
  const compilers = new SchemaCompilers();
  const app = Fastify({ schemaController: { compilersFactory: compilers.factories } });
  app.post('/', { schema: { body: { type: 'no-such-type' } } }, async () => ({}));
  await app.ready();
  assert.throws(() => compilers.compileAll(), /no-such-type|schema is invalid/);
  await app.close();
});

test('schemas compile on first use and answer exactly as the compilers Fastify compiles at start', async () => {
  const compilers = new SchemaCompilers();
  const lazy = echoApp(compilers);
  const eager = echoApp();
  await Promise.all([lazy.ready(), eager.ready()]);
  // params, body, and the two response statuses: none compiled before a request needs it.
  assert.equal(compilers.uncompiled, 4);
  const requests = [
    { url: '/echo/abc', payload: { n: 3, tags: ['x'] } },
    { url: '/echo/abc', payload: { n: 0 } },
    { url: '/echo/abc', payload: { n: '3' } },
    { url: '/echo/abc', payload: { tags: [1] } },
    { url: '/echo/ABC', payload: { n: 3 } },
    { url: '/echo/abc', payload: 'not json', headers: { 'content-type': 'application/json' } },
  ];
  for (const request of requests) {
    const [fromLazy, fromEager] = await Promise.all(
      [lazy, eager].map((app) => app.inject({ method: 'POST', ...request })),
    );
    assert.equal(fromLazy?.statusCode, fromEager?.statusCode, JSON.stringify(request));
    assert.equal(fromLazy?.body, fromEager?.body, JSON.stringify(request));
  }
  assert.equal(compilers.uncompiled, 0);
  await Promise.all([lazy.close(), eager.close()]);
});
