import type { KeyUseBatch, KeyUseCount } from '../core/key-usage.ts';
import type { PgDatabase } from './postgres-database.ts';

// Store.recordKeyUse and keyUsage for PostgreSQL. Several nodes flush at once, often for the same
// keys: every flush takes its row locks in one global order (the usage rows by kid and outcome,
// then the key rows by id, the order revokeDueKeys locks keys in), so flushes wait for each other
// briefly instead of deadlocking.

export async function recordKeyUse(db: PgDatabase, batch: KeyUseBatch): Promise<void> {
  const counts = mergedCounts(batch.counts);
  const used = [...batch.lastUsed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (counts.length === 0 && used.length === 0) return;
  await db.transaction(async (sql) => {
    if (counts.length > 0) {
      await sql.run(
        `INSERT INTO key_usage AS held (kid, outcome, count)
         SELECT added.kid, added.outcome, added.count
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS added (kid, outcome, count)
         JOIN keys ON keys.id = added.kid
         ORDER BY added.kid, added.outcome
         ON CONFLICT (kid, outcome) DO UPDATE SET count = held.count + excluded.count`,
        [counts.map((c) => c.kid), counts.map((c) => c.outcome), counts.map((c) => c.count)],
      );
    }
    if (used.length > 0) {
      const kids = used.map(([kid]) => kid);
      await sql.run('SELECT 1 FROM keys WHERE id = ANY ($1::text[]) ORDER BY id FOR NO KEY UPDATE', [kids]);
      await sql.run(
        `UPDATE keys SET last_used_at = greatest(coalesce(keys.last_used_at, 0), used.at)
         FROM unnest($1::text[], $2::bigint[]) AS used (id, at) WHERE keys.id = used.id`,
        [kids, used.map(([, at]) => at)],
      );
    }
  });
}

export async function keyUsage(db: PgDatabase, kids: readonly string[]): Promise<KeyUseCount[]> {
  if (kids.length === 0) return [];
  const rows = await db.rows(
    'SELECT kid, outcome, count FROM key_usage WHERE kid = ANY ($1::text[]) ORDER BY kid, outcome',
    [kids],
  );
  return rows.map((row) => ({
    kid: String(row.kid),
    outcome: String(row.outcome) as KeyUseCount['outcome'],
    count: Number(row.count),
  }));
}

/** One row per (kid, outcome): an upsert may not touch the same row twice in one statement. */
function mergedCounts(counts: readonly KeyUseCount[]): KeyUseCount[] {
  const merged = new Map<string, KeyUseCount>();
  for (const row of counts) {
    const key = `${row.kid} ${row.outcome}`;
    const held = merged.get(key);
    merged.set(key, held ? { ...held, count: held.count + row.count } : { ...row });
  }
  return [...merged.values()];
}
