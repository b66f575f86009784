import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createSigner,
  createVerifier,
  type KeygateRequest,
  keygateExpress,
  keygateFastify,
  keygatePreHandler,
} from '../../src/sdk/index.ts';
import { AUD, NOW } from '../helpers.ts';
import { type Served, serveKeygate } from './keygate-server.ts';

// An API behind Keygate, in each framework the SDK supports, asked over real HTTP; the verifier
// asks a real Keygate. The APIs' Date headers tell Keygate's frozen time, as servers whose clocks
// are right agree: only the client's clock is off.
const SERVER_DATE = new Date(NOW * 1000).toUTCString();

let keygate: Served;
let fastifyApi: FastifyInstance;
let expressApi: Server;
const apis: Record<'fastify plugin' | 'fastify preHandler' | 'express middleware', string> = {
  'fastify plugin': '',
  'fastify preHandler': '',
  'express middleware': '',
};

before(async () => {
  keygate = await serveKeygate();
  const verifier = createVerifier({ url: keygate.url, clock: () => NOW * 1000 });

  fastifyApi = Fastify();
  fastifyApi.addHook('onSend', async (_request, reply, payload) => {
    reply.header('date', SERVER_DATE);
    return payload;
  });
  fastifyApi.get('/open', async () => ({ open: true }));
  await fastifyApi.register(async (scope) => {
    await scope.register(keygateFastify, { verifier });
    scope.get('/orders', async (request) => ({ caller: request.keygate }));
  });
  fastifyApi.get('/one-route', { preHandler: keygatePreHandler(verifier) }, async (request) => ({
    caller: request.keygate,
  }));
  await fastifyApi.listen({ port: 0, host: '127.0.0.1' });
  const fastifyUrl = `http://127.0.0.1:${(fastifyApi.server.address() as { port: number }).port}`;
  apis['fastify plugin'] = `${fastifyUrl}/orders`;
  apis['fastify preHandler'] = `${fastifyUrl}/one-route`;

  const middleware = keygateExpress(verifier);
  expressApi = createServer((request, response) => {
    response.setHeader('date', SERVER_DATE);
    middleware(request, response, (error) => {
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify(error ? { error: String(error) } : { caller: (request as KeygateRequest).keygate }),
      );
    });
  });
  await new Promise<void>((resolve) => expressApi.listen(0, '127.0.0.1', resolve));
  apis['express middleware'] = `http://127.0.0.1:${(expressApi.address() as { port: number }).port}/orders`;
});

after(async () => {
  await fastifyApi.close();
  await new Promise((resolve) => expressApi.close(resolve));
  await keygate.close();
});

for (const name of Object.keys(apis) as (keyof typeof apis)[]) {
  describe(name, () => {
    const url = () => apis[name];

    test('a valid token: the handler sees who called', async () => {
      const response = await fetch(url(), {
        headers: { authorization: `Bearer ${keygate.fixture.token()}` },
      });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        caller: {
          orgId: keygate.fixture.orgId,
          sub: 'alice',
          role: 'user',
          kid: keygate.fixture.kid,
          method: 'key',
          expiresAt: '2027-01-15T09:00:00Z',
        },
      });
    });

    test('no token: 401 token_missing, with a Bearer challenge', async () => {
      const response = await fetch(url());
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="keygate"');
      assert.equal(response.headers.get('x-keygate-reason'), 'token_missing');
      assert.deepEqual(await response.json(), {
        status: 401,
        error: {
          code: 'token_missing',
          message: 'No token was sent.',
          hint: 'Send the token in the Authorization header, as "Bearer <jwt>" or the bare JWT.',
        },
      });
    });

    test('a refused token: 401 with its reason code in the body and WWW-Authenticate', async () => {
      const token = keygate.fixture.token({ aud: 'elsewhere.example' });
      const response = await fetch(url(), { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 401);
      assert.equal(
        response.headers.get('www-authenticate'),
        'Bearer realm="keygate", error="invalid_token", error_description="aud_mismatch"',
      );
      const body = (await response.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'aud_mismatch');
    });

    test("a client 10 minutes fast: createSigner's fetch retries once and gets in", async () => {
      const signer = createSigner({
        privateKey: keygate.fixture.pair.privateKey,
        orgId: keygate.fixture.orgId,
        keyId: keygate.fixture.kid,
        audience: AUD,
        sub: 'bob',
        ttlSeconds: 300,
        clock: () => (NOW + 600) * 1000,
      });
      const start = keygate.answers.length;
      const response = await signer.fetch(url());
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { caller: { sub: string } }).caller.sub, 'bob');
      assert.deepEqual(
        keygate.answers.slice(start).map((a) => [a.path, a.status, a.code]),
        [
          ['/auth/verify', 401, 'iat_in_future'],
          ['/auth/verify', 200, undefined],
        ],
      );
    });
  });
}

test('the Fastify plugin guards only the scope it is registered in', async () => {
  const base = apis['fastify plugin'].replace('/orders', '');
  assert.equal((await fetch(`${base}/open`)).status, 200);
});
