import type { AuditEvent, AuditQuery, AuditRecord } from '../core/audit.ts';
import { MAX_AUDIT_PAGE } from '../core/audit.ts';
import { auditColumns, toAuditRecord } from './audit-rows.ts';

/** What the SQLite store lends these functions: its statements, run inside one of its units. */
type Statements = (text: string) => {
  run(...params: (string | number | null)[]): { changes: number | bigint };
  all(...params: (string | number | null)[]): Record<string, unknown>[];
};

// The audit trail in the embedded store (Store.appendAudit, listAudit, pruneAudit). appendEvents
// runs inside the caller's transaction, so that a change and its record commit together.

export function appendEvents(sql: Statements, events: readonly AuditEvent[]): void {
  const insert = sql(
    `INSERT INTO audit_events (at, org_id, actor_type, actor_id, action, target, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const event of events) insert.run(...auditColumns(event));
}

export function selectEvents(sql: Statements, query: AuditQuery): AuditRecord[] {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.orgId !== undefined) {
    where.push('org_id = ?');
    params.push(query.orgId);
  }
  if (query.since !== undefined) {
    where.push('at >= ?');
    params.push(query.since);
  }
  if (query.before !== undefined) {
    where.push('id < ?');
    params.push(query.before);
  }
  const rows = sql(
    `SELECT * FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY id DESC LIMIT ?`,
  ).all(...params, Math.max(0, Math.min(query.limit, MAX_AUDIT_PAGE)));
  return rows.map(toAuditRecord);
}

/** One batch of a prune: deletes up to `limit` events from before `before`, oldest first. */
export function deleteEventsBefore(sql: Statements, before: number, limit: number): number {
  return Number(
    sql(
      'DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY id LIMIT ?)',
    ).run(before, limit).changes,
  );
}
