import type { ServerKeyRecord, UserRecord, UserStatus } from '../core/account-records.ts';
import type { AuditActor } from '../core/audit.ts';
import { newOrg, SERVER_KEY_QUERY, toServerKey, toUser } from './account-rows.ts';
import { orgCreated, passwordChanged, userCreated, userStatusChanged } from './audit-rows.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import { clearAttemptsOf } from './sqlite-logins.ts';
import { revokeSessionsOf } from './sqlite-sessions.ts';
import { ConflictError, type Org } from './store.ts';

// Organizations, users and the server's signing keys in the embedded store.

export async function createOrg(
  db: SqliteDatabase,
  input: { name: string; singleUseTokens?: boolean },
  now: number,
  by: AuditActor,
): Promise<Org> {
  const org = newOrg(input, now);
  await db.write(() =>
    db.transaction(() => {
      db.sql('INSERT INTO orgs (id, name, single_use_tokens, created_at) VALUES (?, ?, ?, ?)').run(
        org.id,
        org.name,
        org.singleUseTokens ? 1 : 0,
        now,
      );
      db.audit([orgCreated(org, by)]);
    }),
  );
  return org;
}

export async function getOrg(db: SqliteDatabase, id: string): Promise<Org | undefined> {
  const row = await db.read(() => db.sql('SELECT * FROM orgs WHERE id = ?').get(id) as Row | undefined);
  return row && toOrg(row);
}

export async function listOrgs(db: SqliteDatabase): Promise<Org[]> {
  return (await db.read(() => db.sql('SELECT * FROM orgs ORDER BY created_at, id').all() as Row[])).map(
    toOrg,
  );
}

export async function createUser(db: SqliteDatabase, user: UserRecord, by: AuditActor): Promise<UserRecord> {
  try {
    await db.write(() =>
      db.transaction(() => {
        db.sql(
          `INSERT INTO users (id, org_id, email, screen_name, role, status, password_hash, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          user.id,
          user.orgId,
          user.email,
          user.screenName,
          user.role,
          user.status,
          user.passwordHash,
          user.createdAt,
        );
        db.audit([userCreated(user, by)]);
      }),
    );
  } catch (error) {
    if (String((error as Error).message).includes('UNIQUE constraint failed')) {
      throw new ConflictError('email', `A user with the email ${user.email} exists already.`);
    }
    throw error;
  }
  return user;
}

export async function getUser(db: SqliteDatabase, id: string): Promise<UserRecord | undefined> {
  const row = await db.read(() => db.sql('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined);
  return row && toUser(row);
}

export async function getUserByEmail(db: SqliteDatabase, email: string): Promise<UserRecord | undefined> {
  // A plain read: a login writes its attempt (reserveLoginAttempt) before this lookup, for
  // every name alike, so a store that cannot take writes already refused it the same way.
  const row = await db.read(
    () => db.sql('SELECT * FROM users WHERE email = ?').get(email) as Row | undefined,
  );
  return row && toUser(row);
}

export async function listUsers(db: SqliteDatabase, orgId: string): Promise<UserRecord[]> {
  const rows = await db.read(
    () => db.sql('SELECT * FROM users WHERE org_id = ? ORDER BY created_at, email').all(orgId) as Row[],
  );
  return rows.map(toUser);
}

export function setUserStatus(
  db: SqliteDatabase,
  id: string,
  status: UserStatus,
  now: number,
  by: AuditActor,
): Promise<UserRecord | undefined> {
  return db.write(() =>
    db.transaction(() => {
      const before = db.sql('SELECT status FROM users WHERE id = ?').get(id) as Row | undefined;
      if (!before) return undefined;
      db.sql('UPDATE users SET status = ? WHERE id = ?').run(status, id);
      if (status === 'disabled') revokeSessionsOf(db, id, now, 'user_disabled');
      const user = toUser(db.sql('SELECT * FROM users WHERE id = ?').get(id) as Row);
      db.audit(userStatusChanged(user, String(before.status), by, now));
      return user;
    }),
  );
}

export function setUserPassword(
  db: SqliteDatabase,
  id: string,
  passwordHash: string,
  now: number,
  by: AuditActor,
): Promise<UserRecord | undefined> {
  return db.write(() =>
    db.transaction(() => {
      const changed = db.sql('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, id).changes;
      if (changed === 0) return undefined;
      revokeSessionsOf(db, id, now, 'password_changed');
      const user = toUser(db.sql('SELECT * FROM users WHERE id = ?').get(id) as Row);
      clearAttemptsOf(db, user.email);
      db.audit([passwordChanged(user, by, now)]);
      return user;
    }),
  );
}

export async function upgradePasswordHash(
  db: SqliteDatabase,
  id: string,
  passwordHash: string,
): Promise<void> {
  await db.write(() => db.sql('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, id));
}

export async function listServerKeys(db: SqliteDatabase): Promise<ServerKeyRecord[]> {
  const rows = await db.read(() => db.sql(SERVER_KEY_QUERY).all() as Row[]);
  return rows.map(toServerKey);
}

export async function rotateServerKey(
  db: SqliteDatabase,
  key: ServerKeyRecord & { sealedPrivateKey: string },
  options: { onlyIfNone?: boolean },
): Promise<void> {
  await db.write(() =>
    db.transaction(() => {
      if (options.onlyIfNone && db.sql("SELECT 1 FROM server_keys WHERE status = 'active'").get()) return;
      db.sql(
        "UPDATE server_keys SET status = 'retired', retired_at = ?, sealed_private_key = NULL WHERE status = 'active'",
      ).run(key.createdAt);
      db.sql(
        'INSERT INTO server_keys (id, sealed_private_key, public_jwk, status, created_at) VALUES (?, ?, ?, ?, ?)',
      ).run(key.id, key.sealedPrivateKey, key.publicJwk, 'active', key.createdAt);
    }),
  );
}

/** The compare and set of Store.resealServerKey; SqliteStore then moves the old value out of the WAL. */
export async function resealServerKey(
  db: SqliteDatabase,
  id: string,
  from: string,
  to: string,
): Promise<boolean> {
  const changed = await db.write(
    () =>
      db
        .sql(
          "UPDATE server_keys SET sealed_private_key = ? WHERE id = ? AND sealed_private_key = ? AND status = 'active'",
        )
        .run(to, id, from).changes,
  );
  return Number(changed) !== 0;
}

export function deleteRetiredServerKeys(db: SqliteDatabase, retiredBy: number): Promise<number> {
  return db.write(() =>
    Number(
      db.sql("DELETE FROM server_keys WHERE status = 'retired' AND retired_at <= ?").run(retiredBy).changes,
    ),
  );
}

function toOrg(row: Row): Org {
  return {
    id: String(row.id),
    name: String(row.name),
    singleUseTokens: row.single_use_tokens === 1,
    createdAt: Number(row.created_at),
  };
}
