import type { SessionRecord } from '../core/account-records.ts';
import { toSession } from './account-rows.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

// The sessions of signed-in users in the embedded store (Store's createSession, getSession, touchSession,
// revokeSession); sqlite-prune.ts deletes the expired ones.

export async function createSession(db: SqliteDatabase, session: SessionRecord): Promise<void> {
  await db.write(() =>
    db
      .sql(
        'INSERT INTO sessions (id, user_id, role, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        session.id,
        session.userId,
        session.role,
        session.createdAt,
        session.lastSeenAt,
        session.expiresAt,
      ),
  );
}

export async function getSession(db: SqliteDatabase, id: string): Promise<SessionRecord | undefined> {
  const row = await db.read(() => db.sql('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined);
  return row && toSession(row);
}

export async function touchSession(db: SqliteDatabase, id: string, now: number): Promise<void> {
  await db.write(() =>
    db.sql('UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?').run(now, id),
  );
}

export async function revokeSession(
  db: SqliteDatabase,
  id: string,
  now: number,
  reason: string,
): Promise<boolean> {
  const result = await db.write(() =>
    db
      .sql('UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL')
      .run(now, reason, id),
  );
  return Number(result.changes) > 0;
}

/** Ends every session of a user, inside the transaction of the change that calls for it. */
export function revokeSessionsOf(db: SqliteDatabase, userId: string, now: number, reason: string): void {
  db.sql(
    'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL',
  ).run(now, reason, userId);
}
