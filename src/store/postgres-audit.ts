import type { AuditEvent, AuditQuery, AuditRecord } from '../core/audit.ts';
import { MAX_AUDIT_PAGE } from '../core/audit.ts';
import { auditColumns, toAuditRecord } from './audit-rows.ts';
import type { PgDatabase, Sql } from './postgres-database.ts';

// The audit trail in PostgreSQL (Store.appendAudit, listAudit, pruneAudit). appendEvents runs on
// the caller's transaction, so that a change and its record commit together.

/** Deleted this many at a time, as postgres-prune.ts does, so no prune holds many row locks for long. */
const PRUNE_BATCH_ROWS = 5000;

/** One statement for the whole batch, in order: the identity numbers them as they are listed. */
export async function appendEvents(sql: Sql, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const columns = events.map(auditColumns);
  await sql.run(
    `INSERT INTO audit_events (at, org_id, actor_type, actor_id, action, target, detail)
     SELECT at, org_id, actor_type, actor_id, action, target, detail::jsonb
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
       WITH ORDINALITY AS e (at, org_id, actor_type, actor_id, action, target, detail, n)
     ORDER BY n`,
    columns[0]?.map((_, i) => columns.map((row) => row[i])) ?? [],
  );
}

export async function selectEvents(db: PgDatabase, query: AuditQuery): Promise<AuditRecord[]> {
  const rows = await db.rows(
    `SELECT id, at, org_id, actor_type, actor_id, action, target, detail FROM audit_events
     WHERE ($1::text IS NULL OR org_id = $1) AND ($2::bigint IS NULL OR at >= $2)
       AND ($3::bigint IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [
      query.orgId ?? null,
      query.since ?? null,
      query.before ?? null,
      Math.max(0, Math.min(query.limit, MAX_AUDIT_PAGE)),
    ],
  );
  return rows.map(toAuditRecord);
}

export async function deleteEventsBefore(db: PgDatabase, before: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.run(
      `DELETE FROM audit_events WHERE id IN
         (SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)`,
      [before, PRUNE_BATCH_ROWS],
    );
    total += deleted;
    if (deleted < PRUNE_BATCH_ROWS) return total;
  }
}
