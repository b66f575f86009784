import type { UserRecord, UserStatus } from '../core/account-records.ts';
import type { AuditActor } from '../core/audit.ts';
import { toUser } from './account-rows.ts';
import { passwordChanged, userCreated, userStatusChanged, userUnlocked, wallClock } from './audit-rows.ts';
import { appendEvents } from './postgres-audit.ts';
import type { PgDatabase, Sql } from './postgres-database.ts';
import { violatedUnique } from './postgres-errors.ts';
import { clearAttemptsOf, lockName } from './postgres-logins.ts';
import { USER_COLUMNS } from './postgres-rows.ts';
import { ConflictError } from './store.ts';

// The users of the PostgreSQL store, and the sessions their status and password changes end
// (postgres-server-keys.ts holds Keygate's own session signing keys).

export async function getUser(db: PgDatabase, id: string): Promise<UserRecord | undefined> {
  const row = await db.one(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return row && toUser(row);
}

export async function getUserByEmail(db: PgDatabase, email: string): Promise<UserRecord | undefined> {
  const row = await db.one(`SELECT ${USER_COLUMNS} FROM users WHERE email = $1`, [email]);
  return row && toUser(row);
}

export async function listUsers(db: PgDatabase, orgId: string): Promise<UserRecord[]> {
  return (
    await db.rows(`SELECT ${USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY created_at, email`, [orgId])
  ).map(toUser);
}

export async function upgradePasswordHash(db: PgDatabase, id: string, passwordHash: string): Promise<void> {
  await db.run('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, id]);
}

export async function createUser(db: PgDatabase, user: UserRecord, by: AuditActor): Promise<UserRecord> {
  try {
    await db.transaction(async (sql) => {
      await sql.run(
        `INSERT INTO users (id, org_id, email, screen_name, role, status, password_hash, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          user.id,
          user.orgId,
          user.email,
          user.screenName,
          user.role,
          user.status,
          user.passwordHash,
          user.createdAt,
        ],
      );
      await appendEvents(sql, [userCreated(user, by)]);
    });
  } catch (error) {
    if (violatedUnique(error) === 'users_email_unique')
      throw new ConflictError('email', `A user with the email ${user.email} exists already.`);
    throw error;
  }
  return user;
}

export function setUserStatus(
  db: PgDatabase,
  id: string,
  status: UserStatus,
  now: number,
  by: AuditActor,
): Promise<UserRecord | undefined> {
  return db.transaction(async (sql) => {
    const before = await sql.one('SELECT status FROM users WHERE id = $1 FOR UPDATE', [id]);
    if (!before) return undefined;
    const row = await sql.one(`UPDATE users SET status = $1 WHERE id = $2 RETURNING ${USER_COLUMNS}`, [
      status,
      id,
    ]);
    if (!row) return undefined;
    if (status === 'disabled') await revokeSessionsOf(sql, id, now, 'user_disabled');
    const user = toUser(row);
    await appendEvents(sql, userStatusChanged(user, String(before.status), by, now));
    return user;
  });
}

export function setUserPassword(
  db: PgDatabase,
  id: string,
  passwordHash: string,
  now: number,
  by: AuditActor,
): Promise<UserRecord | undefined> {
  return db.transaction(async (sql) => {
    const row = await sql.one(`UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING ${USER_COLUMNS}`, [
      passwordHash,
      id,
    ]);
    if (!row) return undefined;
    await revokeSessionsOf(sql, id, now, 'password_changed');
    const user = toUser(row);
    await lockName(sql, user.email);
    await clearAttemptsOf(sql, user.email);
    await appendEvents(sql, [passwordChanged(user, by, now)]);
    return user;
  });
}

/** Store.clearLoginAttempts: the counts cleared and, when an account has the name, its record. */
export function unlockName(
  db: PgDatabase,
  name: string,
  by: AuditActor,
  now: number = wallClock(),
): Promise<void> {
  return db.transaction(async (sql) => {
    await lockName(sql, name);
    await clearAttemptsOf(sql, name);
    const user = await sql.one('SELECT id, org_id FROM users WHERE email = $1', [name]);
    if (user)
      await appendEvents(sql, [
        userUnlocked({ id: String(user.id), orgId: String(user.org_id), email: name }, by, now),
      ]);
  });
}

async function revokeSessionsOf(sql: Sql, userId: string, now: number, reason: string): Promise<void> {
  await sql.run(
    'UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL',
    [now, reason, userId],
  );
}
