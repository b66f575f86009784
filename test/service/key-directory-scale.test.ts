import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, type TestContext, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { intakePublicKey } from '../../src/core/key-intake.ts';
import { KeyDirectory } from '../../src/service/key-directory.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { ecPair, NOW } from '../helpers.ts';
import { counted } from '../store/counted-store.ts';
import { TestDatabase } from '../store/postgres-test-database.ts';

// Keys bulk-inserted into a real store (100,000 in SQLite, 1,000,000 in PostgreSQL), and a key
// directory started over them: what a node pays at start, in heap and RSS, per key change, and
// for a flood of made-up kids, printed as diagnostics. The figures are this machine's; the
// assertions are the shape (nothing per key, one feed read per change, the flood within the
// budget and the filter's false positives).

const SQLITE_KEYS = 100_000;
const POSTGRES_KEYS = 1_000_000;
const BUDGET = 50;
const FLOOD = 10_000;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const dir = mkdtempSync(join(tmpdir(), 'keygate-scale-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const spki = intakePublicKey(ecPair().publicPem).spkiPem;

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Start-up, heap and RSS, the cost of one change and of a flood of made-up kids, over a store holding `keys` keys. */
async function measure(
  raw: Store,
  keys: number,
  kids: () => Promise<string[]>,
  listAll?: () => Promise<unknown[]>,
) {
  const { store, calls } = counted(raw);
  const heapBefore = heapUsed();
  const rssBefore = process.memoryUsage().rss;
  let started = performance.now();
  const directory = new KeyDirectory(store, { pollMs: 60_000, missLookupsPerSecond: BUDGET });
  await directory.start();
  const startMs = performance.now() - started;
  const heapGrowth = heapUsed() - heapBefore;
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  assert.deepEqual(
    Object.fromEntries(calls),
    { keyRevision: 1, keyIdsAfter: Math.floor(keys / 10_000) + 1 },
    'starting reads the revision, then every key id once, 10,000 a page, into the kid filter',
  );

  const sample = await kids();
  for (const kid of sample) assert.equal((await directory.lookup(kid))?.record.id, kid);
  calls.clear();
  started = performance.now();
  await directory.refresh();
  const idleMs = performance.now() - started;
  const [changed] = sample as [string];
  await raw.setKeyStatus(changed, 'revoked');
  calls.clear();
  started = performance.now();
  await directory.refresh();
  const changeMs = performance.now() - started;
  assert.deepEqual(Object.fromEntries(calls), { keyChangesSince: 1 }, 'one feed read, no key listed');
  assert.equal(directory.cached(changed)?.record.status, 'revoked');
  assert.equal(directory.sizes.entries, sample.length);

  // Made-up kids, all at once: the store reads only the budget's worth and the filter's false
  // positives (about 1% at its capacity of a million kids); the rest are kid_unknown unread.
  calls.clear();
  started = performance.now();
  const reads: Promise<unknown>[] = [];
  for (let i = 0; i < FLOOD; i++) {
    const answer = directory.lookup(randomUUID());
    if (answer instanceof Promise) reads.push(answer);
  }
  assert.deepEqual(new Set(await Promise.all(reads)), reads.length > 0 ? new Set([undefined]) : new Set());
  const floodMs = performance.now() - started;
  const floodReads = calls.get('getKey') ?? 0;
  assert.ok(floodReads <= BUDGET + FLOOD * 0.02, `${floodReads} store reads for ${FLOOD} made-up kids`);
  await directory.stop();

  // What every change cost each node before the feed: every key's state, and a set of every kid.
  let list: { ms: number; growth: number } | undefined;
  if (listAll) {
    const listHeap = heapUsed();
    started = performance.now();
    const every = new Set((await listAll()).map((row) => (row as { id: string }).id));
    list = { ms: performance.now() - started, growth: heapUsed() - listHeap };
    assert.equal(every.size, keys);
  }
  return { keys, startMs, heapGrowth, rssGrowth, idleMs, changeMs, floodMs, floodReads, list };
}

function report(t: TestContext, name: string, loadMs: number, m: Awaited<ReturnType<typeof measure>>) {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
  t.diagnostic(`${name}, ${m.keys.toLocaleString('en')} keys (bulk insert ${loadMs.toFixed(0)} ms):`);
  t.diagnostic(
    `  directory start-up (the kid filter filled): ${m.startMs.toFixed(0)} ms, heap growth ${mb(m.heapGrowth)} ` +
      `(the filter itself: 1.14 MB outside the heap, fixed by its capacity of a million kids), RSS growth ${mb(m.rssGrowth)}`,
  );
  t.diagnostic(
    `  idle poll: ${m.idleMs.toFixed(2)} ms; one key change applied: ${m.changeMs.toFixed(2)} ms, 1 feed read`,
  );
  t.diagnostic(
    `  ${FLOOD.toLocaleString('en')} made-up kids: ${m.floodReads} store reads, ${m.floodMs.toFixed(0)} ms in all`,
  );
  if (m.list)
    t.diagnostic(
      `  before the feed, each change reloaded every key: ${m.list.ms.toFixed(0)} ms and ${mb(m.list.growth)} of kids`,
    );
  // Nothing per key: under 10 bytes a key, what the client's own buffers come to (the set of
  // every kid was 160 to 440 bytes a key).
  assert.ok(m.heapGrowth < 10 * m.keys, `the directory's heap grew by ${mb(m.heapGrowth)}`);
}

test(`SQLite: a key directory over ${SQLITE_KEYS.toLocaleString('en')} keys starts with one pass over the key ids, holds nothing per key, and applies a change with one feed read`, async (t) => {
  const path = join(dir, 'scale.db');
  const store = new SqliteStore(path);
  t.after(() => store.close());
  const org = await store.createOrg({ name: 'Scale' }, NOW);
  const started = performance.now();
  const bulk = new DatabaseSync(path);
  bulk.exec('BEGIN');
  // As keys carried over from before the feed, with no revision (as in PostgreSQL below): the
  // trigger's two statements per row would make the load most of the test's time.
  const trigger = bulk.prepare("SELECT sql FROM sqlite_master WHERE name = 'keys_feed_insert'").get();
  bulk.exec('DROP TRIGGER keys_feed_insert');
  const insert = bulk.prepare(
    `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, roles, default_role, created_at)
     VALUES (?, ?, ?, ?, 'ec-p256', 256, 'active', 'user', 'user', ?)`,
  );
  for (let i = 0; i < SQLITE_KEYS; i++) insert.run(randomUUID(), org.id, spki, `t${i}`, NOW);
  bulk.exec(String(trigger?.sql));
  bulk.exec('COMMIT');
  const loadMs = performance.now() - started;
  const pick = bulk.prepare('SELECT id FROM keys ORDER BY random() LIMIT 40');
  const listAll = bulk.prepare('SELECT id, status, expires_at, revokes_at FROM keys');
  t.after(() => bulk.close());
  const m = await measure(
    store,
    SQLITE_KEYS,
    async () => pick.all().map((row) => String(row.id)),
    async () => listAll.all(),
  );
  report(t, 'SQLite', loadMs, m);
});

const adminUrl = process.env.KEYGATE_TEST_DATABASE_URL;
test(`PostgreSQL: a key directory over ${POSTGRES_KEYS.toLocaleString('en')} keys starts with one pass over the key ids, holds nothing per key, and applies a change with one feed read`, {
  skip: adminUrl ? false : 'KEYGATE_TEST_DATABASE_URL is not set',
}, async (t) => {
  const database = await TestDatabase.create(adminUrl as string);
  const url = await database.newSchemaUrl();
  const store = await PostgresStore.open(url);
  const client = new pg.Client({ connectionString: url });
  // Hooks run in the order they were added: the connections go before the database is dropped.
  t.after(async () => {
    await client.end();
    await store.close();
    await database.drop();
  });
  await client.connect();
  const org = await store.createOrg({ name: 'Scale' }, NOW);
  const started = performance.now();
  await client.query('BEGIN');
  // As keys carried over from before the feed: one transaction stamping a million revisions
  // would rewrite the one revision row a million times.
  await client.query('SET LOCAL session_replication_role = replica');
  await client.query(
    `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, roles, default_role, created_at)
       SELECT gen_random_uuid()::text, $1, $2, 't' || g, 'ec-p256', 256, 'active', '{user}', 'user', $3
       FROM generate_series(1, ${POSTGRES_KEYS}) AS g`,
    [org.id, spki, NOW],
  );
  await client.query('COMMIT');
  const loadMs = performance.now() - started;
  // The million rows are not read back whole here: the SQLite test shows that cost per key.
  const m = await measure(store, POSTGRES_KEYS, async () =>
    (await client.query('SELECT id FROM keys ORDER BY random() LIMIT 40')).rows.map((row) => row.id),
  );
  report(t, 'PostgreSQL', loadMs, m);
});
