import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { KeyAdmin } from '../../src/service/key-admin.ts';
import { type DirectoryEntry, KeyDirectory } from '../../src/service/key-directory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';

const NOW = 1_800_000_000;
const BUDGET = 50;
const UNKNOWN_TTL_MS = 1000;

/**
 * The real SQLite store behind a proxy that counts calls per method, can make `getKey` fail, and
 * can hold `getKey`'s answer (read at call time) until released.
 */
function instrumented(store: Store) {
  const calls = new Map<string, number>();
  const control = { failing: false, hold: undefined as Promise<void> | undefined };
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        if (property !== 'getKey') return value.apply(target, args);
        if (control.failing) return Promise.reject(new Error('database is locked'));
        const answer = value.apply(target, args) as Promise<unknown>;
        const hold = control.hold;
        return hold ? hold.then(() => answer) : answer;
      };
    },
  });
  return { store: proxy, calls, control };
}

/** A directory over an in-memory store, with a frozen clock for its budget and unknown-kid entries. */
async function world(t: TestContext) {
  const { store, calls, control } = instrumented(new SqliteStore(':memory:'));
  const clock = { ms: 0 };
  const directory = new KeyDirectory(store, {
    pollMs: 60_000,
    missLookupsPerSecond: BUDGET,
    unknownKidTtlMs: UNKNOWN_TTL_MS,
    nowMs: () => clock.ms,
  });
  await directory.start();
  t.after(() => directory.stop().then(() => store.close()));
  // What another process (the CLI, another worker) does: the store changes, the directory is not told.
  const elsewhere = new KeyAdmin(store, () => NOW);
  const here = new KeyAdmin(store, () => NOW, directory);
  const org = await elsewhere.createOrg('Directory Org');
  const addKey = async (admin = elsewhere): Promise<string> => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    return (await admin.registerKey({ orgId: org.id, publicKey: pem, grantedByAdmin: true })).key_id;
  };
  const count = (method: string) => calls.get(method) ?? 0;
  return { store, calls, control, clock, directory, elsewhere, here, addKey, count };
}

test('a key registered behind the directory is found by the next lookup, and kept', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  w.calls.clear();
  const found = await w.directory.lookup(kid);
  assert.equal(found?.record.id, kid);
  assert.equal(found?.record.status, 'active');
  assert.deepEqual([w.count('getKey'), w.count('getOrg')], [1, 1]);
  assert.equal(w.directory.lookup(kid), found, 'answered from memory, not a promise');
  assert.equal(w.directory.cached(kid), found);
  assert.deepEqual([w.count('getKey'), w.count('getOrg')], [1, 1]);
});

test('10,000 made-up kids cost the store exactly the budget: 50 reads, then 25 per half second', async (t) => {
  const w = await world(t);
  w.calls.clear();
  const flood = async () => {
    let promises = 0;
    for (let i = 0; i < 10_000; i++) {
      const answer = w.directory.lookup(randomUUID());
      if (answer instanceof Promise) promises++;
      assert.equal(await answer, undefined);
    }
    return promises;
  };
  assert.equal(await flood(), BUDGET);
  assert.equal(w.count('getKey'), BUDGET);
  w.clock.ms += 500;
  assert.equal(await flood(), BUDGET / 2);
  w.clock.ms += 10_000;
  assert.equal(await flood(), BUDGET, 'an idle budget refills to one second, no more');
  assert.equal(w.count('getKey'), 2.5 * BUDGET);
  assert.equal(w.count('getOrg'), 0);
});

test('out of budget a new key waits for the poll, which brings it without spending budget', async (t) => {
  const w = await world(t);
  for (let i = 0; i < BUDGET; i++) await w.directory.lookup(randomUUID());
  const kid = await w.addKey();
  w.calls.clear();
  assert.equal(w.directory.lookup(kid), undefined);
  assert.equal(w.count('getKey'), 0);
  await w.directory.refresh();
  assert.equal((await w.directory.lookup(kid))?.record.id, kid);
  assert.equal(w.count('getKey'), 1);
});

test('the same unknown kid costs one read per unknown-kid lifetime', async (t) => {
  const w = await world(t);
  const kid = randomUUID();
  w.calls.clear();
  assert.equal(await w.directory.lookup(kid), undefined);
  w.clock.ms += UNKNOWN_TTL_MS - 1;
  for (let i = 0; i < 100; i++) assert.equal(w.directory.lookup(kid), undefined, 'from memory');
  assert.equal(w.count('getKey'), 1);
  w.clock.ms += 1;
  const again = w.directory.lookup(kid);
  assert.ok(again instanceof Promise);
  assert.equal(await again, undefined);
  assert.equal(w.count('getKey'), 2);
});

test('kids the store never issues cost no read and no budget', async (t) => {
  const w = await world(t);
  const uuid = randomUUID();
  w.calls.clear();
  for (let i = 0; i < 1000; i++) {
    for (const kid of [
      '',
      'x',
      uuid.toUpperCase(),
      `{${uuid}}`,
      `${uuid}\n`,
      ` ${uuid}`,
      uuid.replaceAll('-', ''),
      `${uuid.slice(0, -1)}g`,
      'a'.repeat(10_000),
      "' OR 1=1 --",
      '../../keys',
    ]) {
      assert.equal(w.directory.lookup(kid), undefined, JSON.stringify(kid.slice(0, 40)));
    }
  }
  assert.equal(w.count('getKey'), 0);
  const kid = await w.addKey();
  for (let i = 1; i < BUDGET; i++) await w.directory.lookup(randomUUID());
  assert.equal((await w.directory.lookup(kid))?.record.id, kid, 'the whole budget was still there');
  assert.equal(w.count('getKey'), BUDGET);
});

test('concurrent lookups of one kid share one read', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  const unknown = randomUUID();
  w.calls.clear();
  const found = await Promise.all(Array.from({ length: 100 }, () => w.directory.lookup(kid)));
  assert.equal(new Set(found).size, 1);
  assert.equal(found[0]?.record.id, kid);
  const missing = await Promise.all(Array.from({ length: 100 }, () => w.directory.lookup(unknown)));
  assert.deepEqual(new Set(missing), new Set([undefined]));
  assert.deepEqual([w.count('getKey'), w.count('getOrg')], [2, 1]);
});

test('a key disabled and enabled behind the directory is accepted on the next lookup', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  const loaded = (await w.directory.lookup(kid)) as DirectoryEntry;
  await w.elsewhere.setKeyStatus(kid, 'disabled');
  w.calls.clear();
  assert.equal(w.directory.lookup(kid), loaded, 'an active entry is answered from memory');
  assert.equal(w.count('getKey'), 0);
  await w.directory.refresh();
  const rechecked = w.directory.lookup(kid);
  assert.ok(rechecked instanceof Promise, 'a disabled entry is not the final answer');
  assert.equal((await rechecked)?.record.status, 'disabled');
  assert.equal(w.count('getKey'), 1);
  await w.elsewhere.setKeyStatus(kid, 'active');
  w.calls.clear();
  const enabled = await w.directory.lookup(kid);
  assert.equal(enabled?.record.status, 'active');
  assert.equal(enabled?.keyObject, loaded.keyObject, 'the parsed key is kept');
  assert.deepEqual([w.count('getKey'), w.count('getOrg')], [1, 0]);
  assert.equal(w.directory.lookup(kid), enabled, 'kept: the next lookup is from memory');
});

test('out of budget a disabled key stays disabled until the poll', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  await w.directory.lookup(kid);
  await w.elsewhere.setKeyStatus(kid, 'disabled');
  await w.directory.refresh();
  for (let i = 1; i < BUDGET; i++) await w.directory.lookup(randomUUID());
  await w.elsewhere.setKeyStatus(kid, 'active');
  w.calls.clear();
  assert.equal((w.directory.lookup(kid) as DirectoryEntry).record.status, 'disabled');
  assert.equal(w.count('getKey'), 0);
  await w.directory.refresh();
  assert.equal((w.directory.lookup(kid) as DirectoryEntry).record.status, 'active');
  assert.equal(w.count('getKey'), 0);
});

test('a revoked key is final: answered from memory, never read again', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  await w.directory.lookup(kid);
  await w.elsewhere.setKeyStatus(kid, 'revoked');
  await w.directory.refresh();
  w.calls.clear();
  for (let i = 0; i < 100; i++) {
    assert.equal((w.directory.lookup(kid) as DirectoryEntry).record.status, 'revoked');
  }
  assert.equal(w.calls.size, 0);
});

test('a read that began before a revocation through this process answers its own lookup, and is not kept', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  let release = () => {};
  w.control.hold = new Promise((resolve) => {
    release = resolve;
  });
  const racing = w.directory.lookup(kid);
  w.control.hold = undefined;
  await w.here.setKeyStatus(kid, 'revoked');
  release();
  assert.equal((await racing)?.record.status, 'active', 'read before the revocation');
  assert.equal((await w.directory.lookup(kid))?.record.status, 'revoked');
});

test('a store that cannot answer makes lookup reject, and leaves nothing behind', async (t) => {
  const w = await world(t);
  const known = await w.addKey();
  await w.directory.refresh();
  const fresh = await w.addKey();
  w.control.failing = true;
  for (const kid of [known, fresh, randomUUID()]) {
    const answer = w.directory.lookup(kid);
    assert.ok(answer instanceof Promise);
    await assert.rejects(answer, /database is locked/);
  }
  w.control.failing = false;
  assert.equal((await w.directory.lookup(known))?.record.id, known);
  assert.equal((await w.directory.lookup(fresh))?.record.id, fresh, 'no unknown-kid entry was left');
});
