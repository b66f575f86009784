import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Keygate, startKeygate } from '../../src/service/keygate.ts';
import { NOW, POLICY } from '../helpers.ts';

const ENTRIES = 20;
const MAX = 2;

let keygate: Keygate;
let app: FastifyInstance;

before(async () => {
  keygate = await startKeygate({
    database: ':memory:',
    policy: POLICY,
    clock: () => NOW,
    // The smallest argon2id Node accepts: these logins are here to be counted, not to be slow.
    argon2: { memoryKiB: 8, passes: 1, parallelism: 1 },
  });
  app = await buildApp(keygate, { loginRateLimit: MAX, rateLimitEntries: ENTRIES });
});
after(async () => {
  await app.close();
  await keygate.close();
});

const ROUTES = [
  {
    url: '/auth/login',
    payload: (address: string) => ({ user: `${address}@example.com`, pass_hash: '0'.repeat(64) }),
  },
  // Counted before the token is looked at: a flood needs no account.
  { url: '/auth/signing-keys', payload: () => ({ public_key: 'not a key' }) },
];

for (const route of ROUTES) {
  test(`POST ${route.url}: the rate limiter holds KEYGATE_RATE_LIMIT_ENTRIES addresses, and forgets the least recently seen first`, async () => {
    const send = async (address: string) =>
      (
        await app.inject({
          method: 'POST',
          url: route.url,
          remoteAddress: address,
          payload: route.payload(address),
        })
      ).statusCode;
    const limited = '192.0.2.1';
    const statuses = [];
    for (let i = 0; i <= MAX; i++) statuses.push(await send(limited));
    assert.deepEqual(statuses, [401, 401, 429]);
    // With the limited address, the limiter now holds ENTRIES addresses: it still counts it.
    for (let i = 1; i < ENTRIES; i++) assert.equal(await send(`198.51.100.${i}`), 401);
    assert.equal(await send(limited), 429);
    // One more address than the bound: the limited one, seen least recently, is forgotten.
    for (let i = 1; i <= ENTRIES; i++) await send(`203.0.113.${i}`);
    assert.equal(await send(limited), 401);
  });
}
