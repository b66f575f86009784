import type { ServerKeyRecord, UserRecord, UserStatus } from '../core/account-records.ts';
import type { AuditActor } from '../core/audit.ts';
import { toUser } from './account-rows.ts';
import { passwordChanged, userCreated, userStatusChanged, userUnlocked, wallClock } from './audit-rows.ts';
import { appendEvents } from './postgres-audit.ts';
import type { PgDatabase, Sql } from './postgres-database.ts';
import { violatedUnique } from './postgres-errors.ts';
import { clearAttemptsOf, lockName } from './postgres-logins.ts';
import { USER_COLUMNS } from './postgres-rows.ts';
import { ConflictError } from './store.ts';

// The account writes of the PostgreSQL store that take more than one plain statement: users,
// the sessions they end, and Keygate's own session signing keys.

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

export async function rotateServerKey(
  db: PgDatabase,
  key: ServerKeyRecord & { sealedPrivateKey: string },
  options: { onlyIfNone?: boolean },
): Promise<void> {
  await db.transaction(async (sql) => {
    // Rotations take turns (the mode conflicts with itself, not with reads): of nodes starting
    // at once with onlyIfNone, the later ones see the first one's key.
    await sql.run('LOCK TABLE server_keys IN SHARE ROW EXCLUSIVE MODE');
    if (options.onlyIfNone && (await sql.one("SELECT 1 FROM server_keys WHERE status = 'active'"))) return;
    await sql.run(
      `UPDATE server_keys SET status = 'retired', retired_at = $1, sealed_private_key = NULL
       WHERE status = 'active'`,
      [key.createdAt],
    );
    await sql.run(
      `INSERT INTO server_keys (id, sealed_private_key, public_jwk, status, created_at)
       VALUES ($1, $2, $3, 'active', $4)`,
      [key.id, key.sealedPrivateKey, key.publicJwk, key.createdAt],
    );
  });
}
