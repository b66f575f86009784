import assert from 'node:assert/strict';
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
  const checkpointer = new Checkpointer(path);
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
