import type { KeyUseBatch, KeyUseCount } from '../core/key-usage.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

// The per-key use counters of the embedded store (Store.recordKeyUse, keyUsage).

export async function recordKeyUse(db: SqliteDatabase, batch: KeyUseBatch): Promise<void> {
  await db.write(() =>
    db.transaction(() => {
      // The SELECT leaves out a kid the store does not hold, as the UPDATE below does.
      const add = db.sql(
        `INSERT INTO key_usage (kid, outcome, count) SELECT id, ?, ? FROM keys WHERE id = ?
         ON CONFLICT (kid, outcome) DO UPDATE SET count = count + excluded.count`,
      );
      for (const { kid, outcome, count } of batch.counts) add.run(outcome, count, kid);
      const touch = db.sql('UPDATE keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?');
      for (const [kid, at] of batch.lastUsed) touch.run(at, kid);
    }),
  );
}

export function keyUsage(db: SqliteDatabase, kids: readonly string[]): Promise<KeyUseCount[]> {
  return db.read(() => {
    const select = db.sql('SELECT kid, outcome, count FROM key_usage WHERE kid = ? ORDER BY outcome');
    return [...new Set(kids)].sort().flatMap((kid) =>
      (select.all(kid) as Row[]).map((row) => ({
        kid: String(row.kid),
        outcome: String(row.outcome) as KeyUseCount['outcome'],
        count: Number(row.count),
      })),
    );
  });
}
