import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { commandOutage } from '../../src/store/redis-errors.ts';
import { RedisReplayLedger } from '../../src/store/redis-ledger.ts';
import { RedisLink } from '../../src/store/redis-link.ts';
import type { JtiClaim } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { bindJti, type Ledger, ledgerContract } from './ledger-contract.ts';
import { type TestRedis, withTestRedis } from './redis-test-server.ts';
import { TcpProxy } from './tcp-proxy.ts';

// The replay ledger in Redis, on the server KEYGATE_TEST_REDIS_URL names: the contract the
// SQLite and PostgreSQL ledgers pass, then what is Redis's own (keys, expiry, round trips,
// outages and recovery).

const claim = (jti: string, tokenHash = 'h', expiresAt = NOW + 100): JtiClaim => ({
  iss: 'org',
  jti,
  tokenHash,
  expiresAt,
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Milliseconds `promise` took to settle, and how: what a caller waits when Redis cannot serve. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  return { ms: performance.now() - started, error };
}

function assertOutage(error: unknown, reason: RegExp): void {
  assert.ok(error instanceof Error, String(error));
  assert.equal(error.name, 'RedisUnavailableError', error.message);
  assert.equal((error as { refusal?: { code: string } }).refusal?.code, 'redis_unavailable');
  assert.match(String((error as { reason?: unknown }).reason), reason);
}

test('only what means Redis cannot serve is an outage; a bug keeps its own error', () => {
  const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
  const cases: [Error, string | undefined][] = [
    [new Error('Command timed out'), 'Redis did not answer within 250 ms'],
    [
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      'Keygate is not connected to Redis',
    ],
    [new Error('Connection is closed.'), 'the connection to Redis was lost'],
    [
      Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' }),
      'the connection to Redis was lost',
    ],
    [reply('LOADING Redis is loading the dataset in memory'), 'Redis is loading its data set'],
    [reply("OOM command not allowed when used memory > 'maxmemory'."), 'Redis is out of memory (maxmemory)'],
    [reply("READONLY You can't write against a read only replica."), 'Redis is a read-only replica'],
    [reply('WRONGTYPE Operation against a key holding the wrong kind of value'), undefined],
    [reply('ERR Error running script'), undefined],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), undefined],
    [new TypeError("Cannot read properties of undefined (reading 'map')"), undefined],
  ];
  for (const [error, reason] of cases) assert.equal(commandOutage(error, 250), reason, error.message);
});

await withTestRedis('Redis replay ledger', (redis) => {
  const ledgerOn = (link: RedisLink): Ledger => {
    const ledger = new RedisReplayLedger(link);
    return {
      bindJtis: (claims, now) => ledger.bindJtis(claims, now),
      peekJti: (iss, jti, tokenHash, now) => ledger.peekJti(iss, jti, tokenHash, now),
      close: () => link.close(),
    };
  };
  // Several nodes: a connection each, one prefix.
  ledgerContract(
    'Redis',
    async () => ledgerOn(await redis.link()),
    async () => {
      const prefix = redis.newPrefix();
      return Promise.all([1, 2, 3].map(async () => ledgerOn(await redis.link({ prefix }))));
    },
  );
  redisOwnTests(redis);
});

function redisOwnTests(redis: TestRedis): void {
  test('a binding is one key under the prefix, which Redis drops when the claim expires', async () => {
    const link = await redis.link();
    try {
      const ledger = new RedisReplayLedger(link);
      assert.deepEqual(
        await ledger.bindJtis([claim('a'), claim('b', 'h', NOW + 3600), claim('gone', 'h', NOW)], NOW),
        ['bound', 'bound', 'bound'],
      );
      assert.deepEqual(await redis.keys(link.prefix), [
        `${link.prefix}jti:3:org:a`,
        `${link.prefix}jti:3:org:b`,
      ]);
      assert.equal(await redis.admin.get(`${link.prefix}jti:3:org:a`), `${NOW + 100} h`);
      // Kept for expiresAt - now seconds of Redis's own time: the nodes' clocks need not agree with it.
      const ttl = async (jti: string) => redis.admin.pttl(`${link.prefix}jti:3:org:${jti}`);
      assert.ok((await ttl('a')) > 98_000 && (await ttl('a')) <= 100_000, `a: ${await ttl('a')} ms`);
      assert.ok((await ttl('b')) > 3_598_000 && (await ttl('b')) <= 3_600_000, `b: ${await ttl('b')} ms`);
    } finally {
      await link.close();
    }
  });

  test('a batch is one round trip to Redis, whatever its size', async (t) => {
    const link = await redis.link();
    try {
      const ledger = new RedisReplayLedger(link);
      const sent = t.mock.method(link.client, 'sendCommand');
      const batch = Array.from({ length: 512 }, (_, i) => claim(`batch-${i}`));
      let started = performance.now();
      const answers = await ledger.bindJtis(batch, NOW);
      const batchMs = performance.now() - started;
      assert.equal(sent.mock.callCount(), 1);
      assert.deepEqual(new Set(answers), new Set(['bound']));
      started = performance.now();
      for (let i = 0; i < batch.length; i++) await ledger.bindJtis([claim(`single-${i}`)], NOW);
      const singleMs = performance.now() - started;
      assert.equal(sent.mock.callCount(), 1 + batch.length);
      t.diagnostic(`512 claims: one batch ${batchMs.toFixed(1)} ms, one at a time ${singleMs.toFixed(1)} ms`);
    } finally {
      await link.close();
    }
  });

  test('Redis not there: every call fails at once with RedisUnavailableError that says why', async () => {
    const link = new RedisLink(`redis://127.0.0.1:${await closedPort()}`, { prefix: redis.newPrefix() });
    try {
      assert.equal(await link.connected(300), false);
      const ledger = new RedisReplayLedger(link);
      for (const call of [
        () => ledger.bindJtis([claim('a')], NOW),
        () => ledger.peekJti('org', 'a', 'h', NOW),
        () => link.ping(),
      ]) {
        const { ms, error } = await timed(call());
        assertOutage(
          error,
          /^Keygate is not connected to Redis \(the connection was refused\); reconnecting$/,
        );
        assert.ok(ms < 100, `failed after ${ms.toFixed(1)} ms: nothing waits for a connection`);
      }
    } finally {
      await link.close();
    }
  });

  test('Redis that does not answer: each call fails after the timeout; the same token retried later is accepted', async () => {
    const proxy = await TcpProxy.start(redis.url);
    const link = new RedisLink(proxy.url, { prefix: redis.newPrefix(), timeoutMs: 200 });
    try {
      assert.equal(await link.connected(3000), true);
      const ledger = new RedisReplayLedger(link);
      proxy.stall();
      const { ms, error } = await timed(ledger.bindJtis([claim('stalled')], NOW));
      assertOutage(error, /^Redis did not answer within 200 ms$/);
      assert.ok(ms >= 190 && ms < 1000, `failed after ${ms.toFixed(1)} ms`);
      // The script ran, only its answer came late: the claim holds, for its own token only.
      proxy.resume();
      assert.deepEqual(await ledger.bindJtis([claim('stalled'), claim('stalled', 'other')], NOW), [
        'same-token',
        'reused',
      ]);
    } finally {
      await link.close();
      await proxy.close();
    }
  });

  test('Redis gone and back: calls fail while it is away, and the link reconnects by itself', async (t) => {
    const proxy = await TcpProxy.start(redis.url);
    const link = new RedisLink(proxy.url, { prefix: redis.newPrefix() });
    try {
      assert.equal(await link.connected(3000), true);
      const ledger = new RedisReplayLedger(link);
      assert.equal(await bindJti(ledger, 'org', 'before', 'h', NOW + 100, NOW), 'bound');
      await proxy.cut();
      const { ms, error } = await timed(ledger.bindJtis([claim('during')], NOW));
      assertOutage(error, /connection to Redis was lost|not connected to Redis/);
      assert.ok(ms < 100, `failed after ${ms.toFixed(1)} ms`);
      await assert.rejects(link.ping(), { name: 'RedisUnavailableError' });
      await proxy.restore();
      const started = performance.now();
      while (
        !(await link.ping().then(
          () => true,
          () => false,
        ))
      ) {
        assert.ok(performance.now() - started < 3000, 'reconnected within 3 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      t.diagnostic(`reconnected ${(performance.now() - started).toFixed(0)} ms after Redis came back`);
      assert.deepEqual(await ledger.bindJtis([claim('during'), claim('before', 'other')], NOW), [
        'bound',
        'reused',
      ]);
    } finally {
      await link.close();
      await proxy.close();
    }
  });

  test('an error of Redis that is not an outage (a key of the wrong type) stays that error', async () => {
    const link = await redis.link();
    try {
      const ledger = new RedisReplayLedger(link);
      await redis.admin.hset(`${link.prefix}jti:3:org:odd`, 'field', 'value');
      for (const call of [
        () => ledger.peekJti('org', 'odd', 'h', NOW),
        () => ledger.bindJtis([claim('odd')], NOW),
      ])
        await assert.rejects(
          call(),
          (error: Error) => error.name === 'ReplyError' && /WRONGTYPE/.test(error.message),
        );
    } finally {
      await link.close();
    }
  });
}
