import { deleteEventsBefore } from './sqlite-audit.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

// The prunes of the embedded store (Store's pruneJti, pruneSessions, pruneLoginAttempts,
// pruneAudit).

/**
 * Pruning deletes in batches sized to take about this long, with the event loop running between
 * them: a jti binding costs ~3 us to delete, a session ~20 us (its id index is random), and a
 * slow disk more; one DELETE of 500k rows held the loop for 664 ms.
 */
const PRUNE_BATCH_MS = 4;
const PRUNE_BATCH_ROWS = { first: 100, least: 10, most: 5000 };

export function pruneJti(db: SqliteDatabase, now: number): Promise<number> {
  return inBatches(db, (limit) => {
    const deleted = Number(
      db
        .sql(
          `DELETE FROM jti_bindings WHERE pair IN
             (SELECT pair FROM jti_bindings WHERE expires_at <= ? LIMIT ?)`,
        )
        .run(now, limit).changes,
    );
    return { deleted, done: deleted < limit };
  });
}

export function pruneSessions(db: SqliteDatabase, now: number): Promise<number> {
  // Sessions have no index on expires_at: walk the table in rowid order, `limit` rows at a
  // time, so that no step scans more than that however many sessions are live.
  let after = Number.MIN_SAFE_INTEGER;
  return inBatches(db, (limit) => {
    const { last } = db
      .sql(
        'SELECT max(rowid) AS last FROM (SELECT rowid FROM sessions WHERE rowid > ? ORDER BY rowid LIMIT ?)',
      )
      .get(after, limit) as Row;
    if (last === null || last === undefined) return { deleted: 0, done: true };
    const deleted = Number(
      db.sql('DELETE FROM sessions WHERE rowid > ? AND rowid <= ? AND expires_at <= ?').run(after, last, now)
        .changes,
    );
    after = Number(last);
    return { deleted, done: false };
  });
}

export function pruneLoginAttempts(db: SqliteDatabase, now: number): Promise<number> {
  return db.write(() => Number(db.sql('DELETE FROM login_attempts WHERE expires_at <= ?').run(now).changes));
}

export function pruneAudit(db: SqliteDatabase, before: number): Promise<number> {
  return inBatches(db, (limit) => {
    const deleted = deleteEventsBefore((text) => db.sql(text), before, limit);
    return { deleted, done: deleted < limit };
  });
}

/**
 * Runs `batch(limit)` as write units until it reports done, letting the event loop run between
 * two; `limit` adapts so that a batch takes about PRUNE_BATCH_MS. Returns the rows deleted.
 */
async function inBatches(
  db: SqliteDatabase,
  batch: (limit: number) => { deleted: number; done: boolean },
): Promise<number> {
  let limit = PRUNE_BATCH_ROWS.first;
  let total = 0;
  for (;;) {
    let took = 0;
    const { deleted, done } = await db.write(() => {
      const started = performance.now();
      try {
        return batch(limit);
      } finally {
        took = performance.now() - started;
      }
    });
    total += deleted;
    if (done) return total;
    if (took < PRUNE_BATCH_MS / 2) limit = Math.min(limit * 2, PRUNE_BATCH_ROWS.most);
    else if (took > PRUNE_BATCH_MS * 2) limit = Math.max(Math.floor(limit / 2), PRUNE_BATCH_ROWS.least);
    await yieldToEventLoop();
  }
}

/** Lets timers and I/O run between two batches of a long job. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
