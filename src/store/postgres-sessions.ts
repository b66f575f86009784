import type { SessionRecord } from '../core/account-records.ts';
import { toSession } from './account-rows.ts';
import type { PgDatabase } from './postgres-database.ts';
import { SESSION_COLUMNS } from './postgres-rows.ts';

// The sessions of signed-in users in the PostgreSQL store (Store's createSession, getSession,
// touchSession, revokeSession); postgres-prune.ts deletes the expired ones.

export async function createSession(db: PgDatabase, session: SessionRecord): Promise<void> {
  await db.run(
    `INSERT INTO sessions (id, user_id, role, created_at, last_seen_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [session.id, session.userId, session.role, session.createdAt, session.lastSeenAt, session.expiresAt],
  );
}

export async function getSession(db: PgDatabase, id: string): Promise<SessionRecord | undefined> {
  const row = await db.one(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`, [id]);
  return row && toSession(row);
}

export async function touchSession(db: PgDatabase, id: string, now: number): Promise<void> {
  await db.run('UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id = $2', [now, id]);
}

/** One statement: a concurrent revocation holds the row, and this one then finds it revoked. */
export async function revokeSession(
  db: PgDatabase,
  id: string,
  now: number,
  reason: string,
): Promise<boolean> {
  const changed = await db.run(
    'UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL',
    [now, reason, id],
  );
  return changed > 0;
}
