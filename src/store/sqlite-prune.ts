import { deleteEventsBefore } from './sqlite-audit.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import { JTI_ENTRY_BYTES } from './sqlite-jti-entries.ts';

// The prunes of the embedded store (Store's pruneJti, pruneSessions, pruneLoginAttempts,
// pruneAudit).

/**
 * Pruning deletes in batches sized to take about this long, with the event loop running between
 * them: a jti binding costs ~3-5 us to delete, a session ~20 us (its id index is random), and a
 * slow disk more; one DELETE of 500k rows held the loop for 664 ms.
 */
const PRUNE_BATCH_MS = 4;
const PRUNE_BATCH_ROWS = { first: 100, least: 10, most: 5000 };

/**
 * Neither table of the ledger has an index on expiry (migrations 10 and 11): their rows are in
 * insertion order, so the oldest come first and expire first. Walks each from the front in rowid
 * order, deleting the expired ones of each batch, and stops at the first batch in which none has
 * expired. Expired rows behind a
 * batch of longer-lived bindings wait for those to expire (at most the longest token lifetime);
 * meanwhile they bind nothing (bindJtis takes an expired binding over, peekJti ignores it). A row
 * of jti_recent holds a commit's bindings (migration 12) and goes once the last of them expires.
 * Returns the bindings deleted.
 */
export async function pruneJti(db: SqliteDatabase, now: number): Promise<number> {
  const recent = await inRowidOrder(db, 'jti_recent', now, {
    untilNoneExpired: true,
    weight: `length(entries) / ${JTI_ENTRY_BYTES}`,
  });
  return recent + (await inRowidOrder(db, 'jti_bindings', now, { untilNoneExpired: true }));
}

export function pruneSessions(db: SqliteDatabase, now: number): Promise<number> {
  // Sessions have no index on expires_at either, and no order of expiry: walk the whole table.
  return inRowidOrder(db, 'sessions', now, { untilNoneExpired: false });
}

/**
 * Deletes the rows of `table` whose expires_at has passed, `limit` rows in rowid order at a time,
 * so that no step scans more than that however many rows are live. Counts each row deleted as
 * one, or as its `weight` (an SQL expression) where a row holds several.
 */
function inRowidOrder(
  db: SqliteDatabase,
  table: 'jti_recent' | 'jti_bindings' | 'sessions',
  now: number,
  { untilNoneExpired, weight = '1' }: { untilNoneExpired: boolean; weight?: string },
): Promise<number> {
  let after = Number.MIN_SAFE_INTEGER;
  return inBatches(db, (limit) => {
    const { last } = db
      .sql(
        `SELECT max(rowid) AS last FROM (SELECT rowid FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?)`,
      )
      .get(after, limit) as Row;
    if (last === null || last === undefined) return { deleted: 0, done: true };
    // Each row weighed as it is deleted, in the one statement: no second walk over the same rows.
    const weights = db
      .sql(`DELETE FROM ${table} WHERE rowid > ? AND rowid <= ? AND expires_at <= ? RETURNING ${weight} AS n`)
      .all(after, last, now);
    after = Number(last);
    const deleted = weights.reduce((sum, row) => sum + Number(row.n), 0);
    return { deleted, done: untilNoneExpired && weights.length === 0 };
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
 * Runs `batch(limit)` as write units until it reports done, pausing between two for three times
 * as long as the batch took; `limit` adapts so that a batch takes about PRUNE_BATCH_MS. Returns
 * the rows deleted.
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
    // Each deleted row dirties a page of a random index (the ledger's pair, the sessions' id),
    // so a batch writes nearly a page per row to the WAL. Flat out, pruning wrote 90k pages a
    // second, far more than the checkpoint thread copies back, and the WAL grew to the bound
    // at which a commit checkpoints inside the event loop (100-230 ms). At a quarter of the
    // time, the thread keeps up.
    await pause(took * 3);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
