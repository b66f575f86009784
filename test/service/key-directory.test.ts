import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { CodedError } from '../../src/core/error-codes.ts';
import type { KeyEntry } from '../../src/service/directory-entry.ts';
import { KeyAdmin } from '../../src/service/key-admin.ts';
import { type DirectoryEntry, KeyDirectory } from '../../src/service/key-directory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { type Store, StoreUnavailableError } from '../../src/store/store.ts';

const NOW = 1_800_000_000;
const BUDGET = 50;
const UNKNOWN_TTL_MS = 1000;
const MAX_LAG_MS = 1000;

/**
 * The real SQLite store behind a proxy that counts calls per method, can make `getKey` or the
 * feed read fail, and can hold `getKey`'s answer (read at call time) until released.
 */
export function instrumented(store: Store) {
  const calls = new Map<string, number>();
  const control = { failing: false, feedFailing: false, hold: undefined as Promise<void> | undefined };
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        if (property === 'keyChangesSince' && control.feedFailing)
          return Promise.reject(new StoreUnavailableError('database is locked'));
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
    maxFeedLagMs: MAX_LAG_MS,
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
  /** Moves the frozen clock as a running node would: the poll keeps the feed current meanwhile. */
  const advance = async (ms: number) => {
    clock.ms += ms;
    await directory.refresh();
  };
  return { store, calls, control, clock, directory, elsewhere, here, addKey, count, advance };
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

test('10,000 made-up kids cost the store exactly the budget: 50 reads, then 25 per half second; the rest is kid_unknown at once', async (t) => {
  const w = await world(t);
  w.calls.clear();
  const flood = () => {
    const answers = { read: 0, refused: 0 };
    const reads: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const answer = w.directory.lookup(randomUUID());
      if (answer instanceof Promise) {
        answers.read++;
        reads.push(answer.then((found) => assert.equal(found, undefined)));
      } else {
        // The kid filter has never seen it, and the budget is spent: no read, no promise.
        assert.equal(answer, undefined);
        answers.refused++;
      }
    }
    return Promise.all(reads).then(() => answers);
  };
  assert.deepEqual(await flood(), { read: BUDGET, refused: 10_000 - BUDGET });
  assert.equal(w.count('getKey'), BUDGET);
  await w.advance(500);
  assert.deepEqual((await flood()).read, BUDGET / 2);
  await w.advance(10_000);
  assert.deepEqual((await flood()).read, BUDGET, 'an idle budget refills to one second, no more');
  assert.equal(w.count('getKey'), 2.5 * BUDGET);
  assert.equal(w.count('getOrg'), 0);
});

test('out of budget a key registered elsewhere is kid_unknown until the feed announces it, which loads it without spending budget', async (t) => {
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

test('a key the kid filter holds is read however spent the budget: an evicted or revoked key is never kid_unknown', async (t) => {
  const w = await world(t);
  const kids = [await w.addKey(), await w.addKey()];
  for (const kid of kids) await w.elsewhere.setKeyStatus(kid, 'revoked');
  // The feed puts both kids in the filter (and announces them).
  await w.directory.refresh();
  const [first, second] = kids as [string, string];
  assert.equal((await w.directory.lookup(first))?.record.status, 'revoked');
  for (let i = 0; i < 2 * BUDGET; i++) await w.directory.lookup(randomUUID());
  assert.equal((await w.directory.resolve(second))?.record.status, 'revoked');
});

test('a directory started on a store with keys holds every kid in its filter: they are read out of budget', async (t) => {
  const store = new SqliteStore(':memory:');
  const admin = new KeyAdmin(store, () => NOW);
  const org = await admin.createOrg('Filled Org');
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const kid = (await admin.registerKey({ orgId: org.id, publicKey: pem, grantedByAdmin: true })).key_id;
  const clock = { ms: 0 };
  const directory = new KeyDirectory(store, {
    pollMs: 60_000,
    missLookupsPerSecond: 1,
    nowMs: () => clock.ms,
  });
  await directory.start();
  t.after(() => directory.stop().then(() => store.close()));
  await directory.lookup(randomUUID()); // spends the whole budget
  assert.equal(directory.lookup(randomUUID()), undefined, 'a made-up kid: refused at once');
  assert.equal((await directory.resolve(kid))?.record.id, kid, 'a kid of the store: read');
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
  const active = (await w.directory.lookup(kid)) as KeyEntry;
  assert.ok(active.keyObject);
  assert.equal(active.holdsPublicKey, true);
  await w.elsewhere.setKeyStatus(kid, 'revoked');
  await w.directory.refresh();
  w.calls.clear();
  for (let i = 0; i < 100; i++) {
    assert.equal((w.directory.lookup(kid) as DirectoryEntry).record.status, 'revoked');
  }
  assert.equal(w.calls.size, 0);
  // Revocation lets the parsed public key go: a directory of revoked keys holds no KeyObjects,
  // and of each record only what refuses its tokens.
  const revoked = w.directory.lookup(kid) as KeyEntry;
  assert.equal(revoked.holdsPublicKey, false);
  assert.deepEqual(
    [revoked.record.id, revoked.record.spkiPem, revoked.record.thumbprint, revoked.record.roles],
    [kid, '', '', []],
  );
});

test('a key read from the store already revoked is held without its public key parsed', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  await w.elsewhere.setKeyStatus(kid, 'revoked');
  const entry = (await w.directory.lookup(kid)) as KeyEntry;
  assert.equal(entry.record.status, 'revoked');
  assert.equal(entry.holdsPublicKey, false);
  assert.equal(entry.record.spkiPem, '', 'nor its public key held as text');
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

test('a key change costs one feed read and touches only the changed key; an idle poll is one read', async (t) => {
  const w = await world(t);
  const loaded = [await w.addKey(), await w.addKey(), await w.addKey()];
  for (let i = 0; i < 50; i++) await w.addKey();
  await w.directory.refresh();
  const before = new Map<string, DirectoryEntry>();
  for (const kid of loaded) before.set(kid, (await w.directory.lookup(kid)) as DirectoryEntry);
  const [changed, ...untouched] = loaded as [string, string, string];
  w.calls.clear();
  await w.directory.refresh();
  assert.deepEqual(Object.fromEntries(w.calls), { keyChangesSince: 1 }, 'idle: one read that finds nothing');
  await w.elsewhere.setKeyStatus(changed, 'revoked');
  w.calls.clear();
  await w.directory.refresh();
  assert.deepEqual(Object.fromEntries(w.calls), { keyChangesSince: 1 }, 'no key is read, none listed');
  const revoked = w.directory.cached(changed);
  assert.equal(revoked?.record.status, 'revoked');
  assert.equal(revoked, before.get(changed), 'updated in place');
  assert.equal((revoked as KeyEntry).holdsPublicKey, false, 'revoked: its parsed key is let go');
  for (const kid of untouched) {
    assert.equal(w.directory.cached(kid), before.get(kid));
    assert.equal(w.directory.cached(kid)?.record, before.get(kid)?.record, 'its record untouched');
  }
  assert.equal(w.directory.sizes.entries, 3, 'the 50 keys nobody used are not loaded');
});

test('a rotation of a loaded key costs one feed read and one read of that key', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  const entry = (await w.directory.lookup(kid)) as DirectoryEntry;
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const replacement = w.elsewhere.prepareKey(
    {
      orgId: entry.record.orgId,
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      grantedByAdmin: true,
    },
    NOW,
  );
  const rotated = await w.store.rotateKey(kid, replacement.key, NOW + 300, NOW);
  assert.ok(rotated.ok);
  w.calls.clear();
  await w.directory.refresh();
  assert.deepEqual(Object.fromEntries(w.calls), { keyChangesSince: 1, getKey: 1 });
  assert.equal(w.directory.cached(kid)?.record.replacedBy, rotated.key.id);
  assert.equal(w.directory.cached(kid)?.record.revokesAt, NOW + 300);
});

test('fail closed: past the lag bound without a feed read, memory answers nothing; the first read catches up on every change', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  const entry = (await w.directory.lookup(kid)) as DirectoryEntry;
  w.control.feedFailing = true;
  await w.elsewhere.setKeyStatus(kid, 'revoked');
  const added = await w.addKey();
  w.clock.ms += MAX_LAG_MS / 2;
  await assert.rejects(w.directory.refresh(), StoreUnavailableError);
  assert.equal(w.directory.cached(kid), entry, 'within the bound memory still answers');
  assert.equal(await w.directory.staleReason(), undefined);
  w.clock.ms += MAX_LAG_MS / 2 + 1;
  const stale = (error: unknown) => error instanceof CodedError && error.refusal.code === 'keys_stale';
  assert.equal(w.directory.cached(kid), undefined);
  await assert.rejects(w.directory.resolve(kid), stale);
  await assert.rejects(w.directory.resolve(added), stale);
  await assert.rejects(w.directory.resolve(randomUUID()), stale);
  assert.match(
    (await w.directory.staleReason()) ?? '',
    /^key changes were last read from the store 1001 ms ago, more than the 1000 ms KEYGATE_KEY_FEED_MAX_LAG_MS allows: the store failed \(unavailable\)$/,
  );
  w.control.feedFailing = false;
  w.calls.clear();
  await w.directory.refresh();
  assert.equal(await w.directory.staleReason(), undefined);
  assert.equal(w.directory.cached(kid)?.record.status, 'revoked', 'the revocation missed meanwhile');
  assert.equal((await w.directory.lookup(added))?.record.id, added, 'the registration too');
  assert.equal(w.count('keyChangesSince'), 1);
});

test('a node far behind reads the feed in batches until it has caught up', async (t) => {
  const w = await world(t);
  const directory = new KeyDirectory(w.store, { pollMs: 60_000, feedBatch: 4, nowMs: () => w.clock.ms });
  await directory.start();
  t.after(() => directory.stop());
  const kids = [];
  for (let i = 0; i < 10; i++) kids.push(await w.addKey());
  for (const kid of kids) await directory.lookup(kid);
  for (const kid of kids) await w.elsewhere.setKeyStatus(kid, 'disabled');
  w.calls.clear();
  await directory.refresh();
  assert.equal(w.count('keyChangesSince'), 3, '4 + 4 + 2 changes');
  assert.deepEqual(new Set(kids.map((kid) => directory.cached(kid)?.record.status)), new Set(['disabled']));
});

test('a poll that is only late (a busy event loop) costs one feed read before memory answers, not a refusal', async (t) => {
  const w = await world(t);
  const kid = await w.addKey();
  const entry = (await w.directory.lookup(kid)) as DirectoryEntry;
  w.clock.ms += MAX_LAG_MS + 1;
  w.calls.clear();
  assert.equal(w.directory.cached(kid), undefined, 'not vouched for from memory');
  const answer = w.directory.lookup(kid);
  assert.ok(answer instanceof Promise);
  assert.equal(await answer, entry);
  assert.deepEqual(Object.fromEntries(w.calls), { keyChangesSince: 1 }, 'one read, shared');
  assert.equal(w.directory.cached(kid), entry, 'current again');
  assert.equal(await w.directory.staleReason(), undefined);
});
