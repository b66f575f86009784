import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import Fastify from 'fastify';
import { apiDocs } from '../../src/http/api-docs.ts';
import { buildApp } from '../../src/http/app.ts';
import { fixture } from '../helpers.ts';

const moduleCache = createRequire(import.meta.url).cache;
const referenceLoaded = () => Object.keys(moduleCache).some((path) => /@fastify[\\/]swagger/.test(path));

test('the API reference is loaded by the first request under /docs, not when the app is built', async () => {
  const f = await fixture();
  const app = await buildApp(f.keygate);
  try {
    await app.ready();
    assert.equal(referenceLoaded(), false);
    const [page, spec] = await Promise.all([app.inject('/docs'), app.inject('/docs/json')]);
    assert.equal(page.statusCode, 200);
    assert.equal(spec.statusCode, 200);
    assert.equal(spec.json().info.title, 'Keygate');
    assert.equal(referenceLoaded(), true);
  } finally {
    await app.close();
    await f.close();
  }
});

test('describes the routes declared after it, in plugins too, and leaves out hidden ones', async () => {
  const app = Fastify();
  apiDocs(app);
  app.get('/a', { schema: { response: { 200: Type.Object({ a: Type.String() }) } } }, async () => ({
    a: '',
  }));
  app.get('/hidden', { schema: { hide: true } }, async () => '');
  await app.register(
    async (plugin) => {
      plugin.post('/b', { schema: { body: Type.Object({ b: Type.Integer() }) } }, async () => '');
    },
    { prefix: '/p' },
  );
  const spec = (await app.inject('/docs/json')).json();
  assert.deepEqual(Object.keys(spec.paths), ['/a', '/p/b']);
  assert.deepEqual(Object.keys(spec.paths['/a']), ['get']);
  assert.deepEqual(spec.paths['/p/b'].post.requestBody.content['application/json'].schema, {
    type: 'object',
    required: ['b'],
    properties: { b: { type: 'integer' } },
  });
  await app.close();
});
