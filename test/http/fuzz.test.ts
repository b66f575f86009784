import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

let f: Fixture;
let app: FastifyInstance;
before(async () => {
  f = await fixture();
  app = await buildApp(f.keygate, { loginRateLimit: 100_000 });
});
after(async () => {
  await app.close();
  await f.close();
});

const paths = [
  '/auth/login',
  '/auth/hello',
  '/auth/logout',
  '/v1/signatures/verify',
  '/v1/whoami',
  '/healthz',
  '/readyz',
  '/.well-known/jwks.json',
  '/nope',
];
const contentTypes = [
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'application/xml',
  'multipart/form-data',
  '',
];

test('no request, however malformed, gets a 5xx or an answer outside the envelope', async () => {
  const body = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    fc
      .record({ user: fc.anything({ maxDepth: 2 }), pass_hash: fc.anything({ maxDepth: 2 }) })
      .map((v) => JSON.stringify(v)),
    fc.record({ token: fc.anything({ maxDepth: 2 }) }).map((v) => JSON.stringify(v)),
    fc
      .record(
        { jws: fc.anything({ maxDepth: 2 }), payload: fc.anything({ maxDepth: 2 }) },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
      fc.constantFrom(...paths),
      fc.constantFrom(...contentTypes),
      body,
      fc.option(fc.oneof(fc.string({ maxLength: 100 }), fc.constant(f.token())), { nil: undefined }),
      async (method, url, contentType, payload, authorization) => {
        const headers: Record<string, string> = {};
        if (contentType) headers['content-type'] = contentType;
        if (authorization !== undefined && !/[\r\n]/.test(authorization))
          headers.authorization = authorization;
        const response = await app.inject({ method, url, headers, ...(method === 'GET' ? {} : { payload }) });
        assert.ok(
          response.statusCode < 500,
          `${method} ${url} ${contentType} ${payload} -> ${response.statusCode} ${response.body}`,
        );
        if (url !== '/.well-known/jwks.json' || method !== 'GET') {
          const json = response.json();
          assert.equal(json.status, response.statusCode);
          assert.ok(json.debug_info);
        }
      },
    ),
    { numRuns: 400 },
  );
});
