import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { Checkpointer } from '../../src/store/sqlite-checkpointer.ts';
import { NOW } from '../helpers.ts';

// With background checkpoints, committed pages reach the database file from the worker thread
// while the store's own commits never checkpoint (below the fallback bound).
test('a server store checkpoints its WAL from a worker thread, not inside its commits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-checkpoint-'));
  const path = join(dir, 'k.db');
  const store = new SqliteStore(path, { backgroundCheckpoints: true });
  try {
    const before = statSync(path).size;
    for (let batch = 0; batch < 20; batch++) {
      const claims = Array.from({ length: 200 }, (_, i) => ({
        iss: 'org',
        jti: `jti-${batch}-${i}`,
        tokenHash: `hash-${batch}-${i}`,
        expiresAt: NOW + 100,
      }));
      await store.bindJtis(claims, NOW);
    }
    let size = statSync(path).size;
    for (let i = 0; i < 60 && size <= before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      size = statSync(path).size;
    }
    assert.ok(size > before, `the database file grew from ${before} bytes: pages were checkpointed`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the checkpoint thread starts with the first write that changed a row, not before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-checkpoint-'));
  const path = join(dir, 'k.db');
  const db = new DatabaseSync(path);
  const checkpointer = new Checkpointer(path, () => () => {});
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE t (x INTEGER)');
    checkpointer.afterWrite(db);
    assert.equal(checkpointer.running, false, 'a schema change writes no row');
    db.exec('DELETE FROM t');
    checkpointer.afterWrite(db);
    assert.equal(checkpointer.running, false, 'a write that changed nothing, as an idle pruning round');
    db.exec('INSERT INTO t VALUES (1)');
    checkpointer.afterWrite(db);
    assert.equal(checkpointer.running, true);
  } finally {
    await checkpointer.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Under steady writes a PASSIVE checkpoint never catches up with the writer, so the WAL never
// starts again from its beginning and grows to the fallback bound, whose checkpoint then runs
// inside a commit. The thread asks for the writes to be held for one RESTART instead.
test('under steady writes, the WAL restarts from its beginning while the writes are held back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-checkpoint-'));
  const path = join(dir, 'k.db');
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA wal_autocheckpoint = 0');
  // As the store, this connection waits for the thread's locks (the store with timers).
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('CREATE TABLE t (k BLOB PRIMARY KEY) WITHOUT ROWID');
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  let held = false;
  let holds = 0;
  const checkpointer = new Checkpointer(
    path,
    () => {
      held = true;
      holds++;
      return () => {
        held = false;
      };
    },
    20,
  );
  const walPages = () => statSync(`${path}-wal`).size / 4096;
  const commit = async () => {
    while (held) await new Promise((resolve) => setTimeout(resolve, 1));
    db.exec('BEGIN IMMEDIATE');
    // Random keys, as the replay ledger writes them: each commit appends a page or more.
    for (let i = 0; i < 8; i++) insert.run(randomBytes(16));
    db.exec('COMMIT');
    checkpointer.afterWrite(db);
    // Steady, not flat out: a commit a millisecond, a page or more each, against a thread that
    // looks every 20 ms. Flat out on a fast machine (3,000 commits in 340 ms) the WAL could pass
    // its file's size between two looks, and the file grew though it restarted.
    await new Promise((resolve) => setTimeout(resolve, 1));
  };
  try {
    const deadline = performance.now() + 20_000;
    while (checkpointer.restarts.count === 0 && performance.now() < deadline) await commit();
    assert.ok(checkpointer.restarts.count >= 1, 'the WAL restarted');
    const before = walPages();
    const more = 1000;
    for (let i = 0; i < more; i++) await commit();
    // Each commit appends at least one page to a WAL that never restarts.
    assert.ok(
      walPages() - before < more,
      `the WAL file grew from ${before} to ${walPages()} pages over ${more} commits: it was reused`,
    );
    assert.ok(holds >= 2 && checkpointer.restarts.count >= 2, `${holds} holds`);
    // The thread may ask for its next hold just after the last commit: that one must end too,
    // within the longest a hold may last (100 ms), with no write left to release it.
    const released = performance.now() + 1000;
    while (held && performance.now() < released) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(held, false, 'every hold was released');
  } finally {
    await checkpointer.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
