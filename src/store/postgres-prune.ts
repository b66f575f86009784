import type { PgDatabase } from './postgres-database.ts';

/** Expired rows are deleted this many at a time, so that no prune holds many row locks for long. */
const PRUNE_BATCH_ROWS = 5000;

/**
 * Deletes the rows of `table` past their expires_at, a batch at a time; returns how many. The
 * condition is repeated outside the batch's subquery: a row that a concurrent bindJtis has just
 * taken over is checked again as it is now, and kept.
 */
export async function pruneExpired(
  db: PgDatabase,
  table: 'jti_ledger' | 'sessions' | 'login_attempts',
  now: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.run(
      `DELETE FROM ${table} WHERE expires_at <= $1
         AND ctid = ANY (ARRAY (SELECT ctid FROM ${table} WHERE expires_at <= $1 LIMIT $2))`,
      [now, PRUNE_BATCH_ROWS],
    );
    total += deleted;
    if (deleted < PRUNE_BATCH_ROWS) return total;
  }
}
