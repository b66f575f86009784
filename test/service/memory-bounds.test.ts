import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startKeygate } from '../../src/service/keygate.ts';
import { AUD, b64, ecPair, NOW, POLICY, rejectsWith, signJwt } from '../helpers.ts';
import type { Flood, FloodReport } from './memory-floods.ts';

const MB = 1_000_000;
const FLOODS = new URL('./memory-floods.ts', import.meta.url).pathname;

/** Runs one flood in its own process, where the heap can be collected and read (memory-floods.ts). */
async function flood(kind: Flood, bound: number, count: number): Promise<FloodReport & { growth: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--no-flush-bytecode', FLOODS, kind, String(bound), String(count)],
    { maxBuffer: 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as FloodReport;
  return { ...report, growth: report.heapAfter - report.heapBefore };
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(2)} MB`;

// Each flood runs with a small bound; the comment beside it gives the heap growth measured on a
// 2-core machine with that bound and with a bound as large as the flood (nothing evicted), which
// is what the threshold must tell apart. The figures repeat to within 0.1 MB from run to run.

test('10,000 distinct valid tokens: the verified-token cache stays at 200 entries and the heap does not grow', async () => {
  // Bounded: +0.05 MB. Unbounded: +3.3 MB for the 9,000 tokens after the baseline (about 360 bytes
  // each). The ledger's memory of recent bindings is bounded alike in this flood and has its own below.
  const report = await flood('tokens', 200, 10_000);
  assert.equal(report.maxSize, 200);
  assert.ok(report.growth < 1.5 * MB, `heap grew by ${mb(report.growth)}`);
});

test("60,000 distinct jtis bound: the replay ledger's memory of recent bindings stays within its bound and the heap does not grow", async () => {
  // Bounded: +0.01 MB. Unbounded: +3.4 MB for the 54,000 bindings after the baseline (about 62
  // bytes each). Past the bound, a commit moves the oldest to disk before it returns once the
  // memory holds a move's slack (256) more than the bound; a batch (500) may come on top.
  const report = await flood('bindings', 1000, 60_000);
  assert.ok(report.maxSize <= 1000 + 256 + 500, `the memory held ${report.maxSize} bindings`);
  assert.ok(report.growth < 1 * MB, `heap grew by ${mb(report.growth)}`);
});

test('60,000 distinct made-up kids: the unknown-kid memory stays at 500 entries and the heap does not grow', async () => {
  // Bounded: -0.05 MB. Unbounded: +15.0 MB for the 54,000 kids after the baseline (about 280 bytes each).
  const report = await flood('kids', 500, 60_000);
  assert.equal(report.maxSize, 500);
  assert.ok(report.growth < 2 * MB, `heap grew by ${mb(report.growth)}`);
});

test('12,000 logins of distinct names from distinct addresses: the rate limiter keeps 500 addresses and the heap does not grow', async () => {
  // Bounded: +0.22 MB. Unbounded: +2.35 MB for 10,800 addresses (about 200 bytes each). The
  // login throttle's rows grow too, in the store, which the heap does not hold.
  const report = await flood('logins', 500, 12_000);
  assert.ok(report.growth < 1.2 * MB, `heap grew by ${mb(report.growth)}`);
});

test('10,000 distinct sessions: the last-seen writes and verified session signatures remembered stay at 200 and the heap does not grow', async () => {
  // Bounded: +0.03 MB. Unbounded: +0.88 MB for 9,000 sessions (about 95 bytes each).
  const report = await flood('sessions', 200, 10_000);
  assert.equal(report.maxSize, 200);
  assert.ok(report.growth < 0.5 * MB, `heap grew by ${mb(report.growth)}`);
});

test('the measurement sees an unbounded structure: a kid flood with a bound as large as itself grows the heap', async () => {
  // +5.3 MB for 18,000 kids.
  const report = await flood('kids', 20_000, 20_000);
  assert.equal(report.maxSize, 20_000);
  assert.ok(report.growth > 3 * MB, `heap grew by only ${mb(report.growth)}`);
});

test('distinct registered kids: at most the key-cache bound are held parsed, and an evicted key is read again, not refused', async (t) => {
  const keygate = await startKeygate({
    database: ':memory:',
    policy: POLICY,
    clock: () => NOW,
    memory: { keyCacheEntries: 3 },
    // The feed is read only by the refresh below: a poll between the registrations and the
    // tokens would apply the 8 changes first, and the loads after it would leave nothing noted.
    pollMs: 600_000,
  });
  t.after(() => keygate.close());
  const org = await keygate.keys.createOrg('Many Keys');
  const keys = [];
  for (let i = 0; i < 8; i++) {
    const pair = ecPair();
    const { key_id } = await keygate.keys.registerKey({
      orgId: org.id,
      publicKey: pair.publicPem,
      grantedByAdmin: true,
    });
    keys.push({ kid: key_id, pair });
  }
  const held: number[] = [];
  for (const round of [1, 2]) {
    for (const { kid, pair } of keys) {
      const token = signJwt(
        { alg: 'ES256', typ: 'JWT', kid },
        { aud: AUD, exp: NOW + 600, iat: NOW, iss: org.id, sub: 'alice', jti: `${kid}-${round}` },
        pair.privateKey,
      );
      assert.equal((await keygate.authenticator.authenticate(token)).kid, kid);
      held.push(keygate.directory.sizes.entries);
    }
  }
  // Filled up to the bound, then held there through both rounds: each new key evicts one.
  assert.deepEqual(held, [1, 2, 3, ...Array(13).fill(3)]);
  // Nothing is kept per key of the store: the feed announces all 8 registrations, and the kids
  // noted but not loaded are held to the same bound.
  await keygate.directory.refresh();
  assert.equal(keygate.directory.sizes.announced, 3);
});

test('made-up kids: the unknown-kid bound given to startKeygate is the one the directory keeps', async (t) => {
  const keygate = await startKeygate({
    database: ':memory:',
    policy: POLICY,
    clock: () => NOW,
    memory: { unknownKidEntries: 4 },
  });
  t.after(() => keygate.close());
  const org = await keygate.keys.createOrg('No Keys');
  // Well within the miss budget of 50 store reads a second: every kid is asked of the store.
  for (let i = 0; i < 12; i++) {
    const kid = randomUUID();
    const token = `${b64({ alg: 'ES256', typ: 'JWT', kid })}.${b64({ aud: AUD, exp: NOW + 600, iat: NOW, iss: org.id, sub: 'alice', jti: 'j', kid })}.${b64('x'.repeat(64))}`;
    await rejectsWith(keygate.authenticator.authenticate(token), 'kid_unknown');
  }
  assert.equal(keygate.directory.sizes.unknownKids, 4);
});

test('key usage: one entry per stored key named, none for made-up kids, and none left after a flush', async (t) => {
  const keygate = await startKeygate({
    database: ':memory:',
    policy: POLICY,
    clock: () => NOW,
    pollMs: 600_000,
  });
  t.after(() => keygate.close());
  const org = await keygate.keys.createOrg('Usage Bounds');
  const pair = ecPair();
  const { key_id: kid } = await keygate.keys.registerKey({
    orgId: org.id,
    publicKey: pair.publicPem,
    grantedByAdmin: true,
  });
  const claims = { aud: AUD, exp: NOW + 600, iat: NOW, iss: org.id, sub: 'alice' };
  // Tokens naming made-up kids, well-formed or not, are refused and counted nowhere.
  for (let i = 0; i < 200; i++) {
    const madeUp = i % 2 === 0 ? randomUUID() : `kid-${i}`;
    const token = `${b64({ alg: 'ES256', typ: 'JWT', kid: madeUp })}.${b64({ ...claims, jti: `m${i}`, kid: madeUp })}.${b64('x'.repeat(64))}`;
    await rejectsWith(keygate.authenticator.authenticate(token), 'kid_unknown');
  }
  assert.equal(keygate.directory.sizes.usage, 0);
  // Forged tokens naming the real key: one entry, however many.
  const stranger = ecPair();
  for (let i = 0; i < 200; i++) {
    const token = signJwt(
      { alg: 'ES256', typ: 'JWT', kid },
      { ...claims, jti: `f${i}`, kid },
      stranger.privateKey,
    );
    await rejectsWith(keygate.authenticator.authenticate(token), 'signature_invalid');
  }
  assert.equal(keygate.directory.sizes.usage, 1);
  await keygate.directory.flushUsage();
  assert.equal(keygate.directory.sizes.usage, 0);
  assert.deepEqual(await keygate.store.keyUsage([kid]), [{ kid, outcome: 'signature_invalid', count: 200 }]);
});
