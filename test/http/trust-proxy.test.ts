import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

// Behind a reverse proxy every connection comes from the proxy: the login rate limit (and the
// login throttle) must count each client, which only a trusted proxy's X-Forwarded-For names.

let f: Fixture;
before(async () => {
  f = await fixture();
});
after(() => f.close());

const LIMIT = 2;

async function loginsFrom(trustProxy: string[], forwardedFor: string[], peer = '127.0.0.1') {
  const app = await buildApp(f.keygate, { loginRateLimit: LIMIT, trustProxy });
  try {
    const statuses: number[] = [];
    for (const client of forwardedFor) {
      const response = await app.inject({
        method: 'POST',
        url: '/auth/login',
        remoteAddress: peer,
        headers: { 'x-forwarded-for': client, 'content-type': 'application/json' },
        payload: { user: 'nobody@example.com', pass_hash: 'a'.repeat(64) },
      });
      statuses.push(response.statusCode);
    }
    return statuses;
  } finally {
    await app.close();
  }
}

test('through a trusted proxy, each client named by X-Forwarded-For has its own login limit', async () => {
  const clients = ['203.0.113.1', '203.0.113.1', '203.0.113.1', '203.0.113.2', '203.0.113.2'];
  assert.deepEqual(await loginsFrom(['127.0.0.1'], clients), [401, 401, 429, 401, 401]);
});

test('without KEYGATE_TRUST_PROXY, X-Forwarded-For is ignored: one peer is one client', async () => {
  const clients = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
  assert.deepEqual(await loginsFrom([], clients), [401, 401, 429]);
});

test('a peer that is not a trusted proxy cannot pick its address with X-Forwarded-For', async () => {
  const clients = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
  assert.deepEqual(await loginsFrom(['10.0.0.0/8'], clients, '198.51.100.7'), [401, 401, 429]);
});

test('KEYGATE_TRUST_PROXY takes addresses and CIDR ranges, and refuses anything else by name', () => {
  assert.deepEqual(loadConfig({ KEYGATE_TRUST_PROXY: ' 127.0.0.1, 10.0.0.0/8,::1 ' }).trustProxy, [
    '127.0.0.1',
    '10.0.0.0/8',
    '::1',
  ]);
  assert.deepEqual(loadConfig({}).trustProxy, []);
  for (const bad of ['nginx', '10.0.0.0/33', '127.0.0.1/8/1', '::1/129', '*'])
    assert.throws(
      () => loadConfig({ KEYGATE_TRUST_PROXY: bad }),
      /KEYGATE_TRUST_PROXY: ".*" is not an IP address or CIDR range/,
    );
});
