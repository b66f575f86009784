import type { AuditActor } from '../core/audit.ts';
import {
  type AddressCounter,
  type AttemptCounter,
  decideAttempt,
  type LoginAttemptRecord,
  type LoginThrottlePolicy,
} from '../core/login-throttle.ts';
import { ACCOUNT_SCOPE, requireAddress, toAttemptCounter, toAttemptRecord } from './account-rows.ts';
import { userUnlocked } from './audit-rows.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import type { LoginReservation } from './store.ts';

// The login throttle's counters in the embedded store (Store's reserve/settle/get/clear): one row
// per (name, scope). Each write is one transaction, which holds the database's write lock.

export async function reserveLoginAttempt(
  db: SqliteDatabase,
  name: string,
  address: string,
  now: number,
  policy: LoginThrottlePolicy,
): Promise<LoginReservation> {
  requireAddress(address);
  return db.write(() =>
    db.transaction((): LoginReservation => {
      const perAddress = attemptCounter(db, name, address);
      const decision = decideAttempt(attemptCounter(db, name, ACCOUNT_SCOPE), perAddress, now, policy);
      if (!decision.allowed) return decision;
      writeAttempts(db, name, ACCOUNT_SCOPE, decision.account, 0);
      writeAttempts(db, name, address, decision.address, perAddress?.trustedUntil ?? 0);
      return { allowed: true };
    }),
  );
}

export async function settleLoginAttempt(
  db: SqliteDatabase,
  name: string,
  address: string,
  now: number,
  policy: LoginThrottlePolicy,
): Promise<void> {
  requireAddress(address);
  await db.write(() =>
    db.transaction(() => {
      clearAttemptsOf(db, name);
      const trustedUntil = Math.max(
        now + policy.trustSeconds,
        attemptCounter(db, name, address)?.trustedUntil ?? 0,
      );
      writeAttempts(db, name, address, { attempts: 0, windowEndsAt: now, blockedUntil: 0 }, trustedUntil);
    }),
  );
}

export async function getLoginAttempts(
  db: SqliteDatabase,
  name: string,
  now: number,
): Promise<LoginAttemptRecord[]> {
  const rows = await db.read(
    () =>
      db
        .sql('SELECT * FROM login_attempts WHERE name = ? AND expires_at > ? ORDER BY scope')
        .all(name, now) as Row[],
  );
  return rows.map(toAttemptRecord);
}

/** Store.clearLoginAttempts: the counts cleared and, when an account has the name, its record. */
export async function clearLoginAttempts(
  db: SqliteDatabase,
  name: string,
  by: AuditActor,
  now: number,
): Promise<void> {
  await db.write(() =>
    db.transaction(() => {
      clearAttemptsOf(db, name);
      const user = db.sql('SELECT id, org_id FROM users WHERE email = ?').get(name) as Row | undefined;
      if (user)
        db.audit([userUnlocked({ id: String(user.id), orgId: String(user.org_id), email: name }, by, now)]);
    }),
  );
}

function attemptCounter(db: SqliteDatabase, name: string, scope: string): AddressCounter | undefined {
  const row = db
    .sql(
      'SELECT attempts, window_ends_at, blocked_until, trusted_until FROM login_attempts WHERE name = ? AND scope = ?',
    )
    .get(name, scope) as Row | undefined;
  return row && toAttemptCounter(row);
}

function writeAttempts(
  db: SqliteDatabase,
  name: string,
  scope: string,
  counter: AttemptCounter,
  trustedUntil: number,
): void {
  db.sql(
    `INSERT INTO login_attempts (name, scope, attempts, window_ends_at, blocked_until, trusted_until, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (name, scope) DO UPDATE SET attempts = excluded.attempts, window_ends_at = excluded.window_ends_at,
       blocked_until = excluded.blocked_until, trusted_until = excluded.trusted_until, expires_at = excluded.expires_at`,
  ).run(
    name,
    scope,
    counter.attempts,
    counter.windowEndsAt,
    counter.blockedUntil,
    trustedUntil,
    Math.max(counter.windowEndsAt, counter.blockedUntil, trustedUntil),
  );
}

/** Clears the counts and waits of `name`, inside the caller's transaction. Addresses stay trusted. */
export function clearAttemptsOf(db: SqliteDatabase, name: string): void {
  db.sql(
    `UPDATE login_attempts SET attempts = 0, blocked_until = 0, expires_at = min(expires_at, trusted_until)
     WHERE name = ?`,
  ).run(name);
}
