import {
  type AttemptCounter,
  decideAttempt,
  type LoginAttemptRecord,
  type LoginThrottlePolicy,
} from '../core/login-throttle.ts';
import { ACCOUNT_SCOPE, requireAddress, toAttemptCounter, toAttemptRecord } from './account-rows.ts';
import type { PgDatabase, Sql } from './postgres-database.ts';
import { ATTEMPT_COLUMNS } from './postgres-rows.ts';
import type { LoginReservation } from './store.ts';

// The login throttle's counters in PostgreSQL (Store's reserve/settle/get/clear/prune), as
// sqlite-logins.ts keeps them: one row per (name, scope), scope '' for the account-wide counter.

/** The first key of the advisory locks on login names: 'kg' in ASCII, apart from other users' locks. */
const LOGIN_LOCK_CLASS = 0x6b67;

/**
 * Serialises, until the transaction ends, every writer of one name's counters. A row lock cannot
 * do it: the first attempts at a name find no row to lock, and two of them would both count from
 * nothing. Names that share a hash only take turns.
 */
export async function lockName(sql: Sql, name: string): Promise<void> {
  await sql.run('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOGIN_LOCK_CLASS, name]);
}

export function reserveLoginAttempt(
  db: PgDatabase,
  name: string,
  address: string,
  now: number,
  policy: LoginThrottlePolicy,
): Promise<LoginReservation> {
  requireAddress(address);
  return db.transaction(async (sql): Promise<LoginReservation> => {
    await lockName(sql, name);
    // Read after the lock is held: this statement's snapshot has every count committed before it.
    const rows = await sql.rows(
      `SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE name = $1 AND scope IN ($2, $3)`,
      [name, ACCOUNT_SCOPE, address],
    );
    const account = rows.find((row) => row.scope === ACCOUNT_SCOPE);
    const perAddress = rows.find((row) => row.scope === address);
    const addressCounter = perAddress && toAttemptCounter(perAddress);
    const decision = decideAttempt(account && toAttemptCounter(account), addressCounter, now, policy);
    if (!decision.allowed) return decision;
    await writeAttempts(sql, name, [
      [ACCOUNT_SCOPE, decision.account, 0],
      [address, decision.address, addressCounter?.trustedUntil ?? 0],
    ]);
    return { allowed: true };
  });
}

export async function settleLoginAttempt(
  db: PgDatabase,
  name: string,
  address: string,
  now: number,
  policy: LoginThrottlePolicy,
): Promise<void> {
  requireAddress(address);
  await db.transaction(async (sql) => {
    await lockName(sql, name);
    await clearAttemptsOf(sql, name);
    const row = await sql.one('SELECT trusted_until FROM login_attempts WHERE name = $1 AND scope = $2', [
      name,
      address,
    ]);
    const trustedUntil = Math.max(now + policy.trustSeconds, Number(row?.trusted_until ?? 0));
    await writeAttempts(sql, name, [
      [address, { attempts: 0, windowEndsAt: now, blockedUntil: 0 }, trustedUntil],
    ]);
  });
}

export async function getLoginAttempts(
  db: PgDatabase,
  name: string,
  now: number,
): Promise<LoginAttemptRecord[]> {
  const rows = await db.rows(
    `SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE name = $1 AND expires_at > $2 ORDER BY scope`,
    [name, now],
  );
  return rows.map(toAttemptRecord);
}

/** Clears the counts and waits of `name`; the caller holds its lock. Addresses stay trusted. */
export async function clearAttemptsOf(sql: Sql, name: string): Promise<void> {
  await sql.run(
    `UPDATE login_attempts SET attempts = 0, blocked_until = 0, expires_at = least(expires_at, trusted_until)
     WHERE name = $1`,
    [name],
  );
}

/** Counters with their trust, written whole (one statement for all of them). */
async function writeAttempts(
  sql: Sql,
  name: string,
  counters: readonly (readonly [scope: string, counter: AttemptCounter, trustedUntil: number])[],
): Promise<void> {
  const column = <T>(pick: (entry: (typeof counters)[number]) => T) => counters.map(pick);
  await sql.run(
    `INSERT INTO login_attempts (name, scope, attempts, window_ends_at, blocked_until, trusted_until, expires_at)
     SELECT $1, scope, attempts, window_ends_at, blocked_until, trusted_until,
       greatest(window_ends_at, blocked_until, trusted_until)
     FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[])
       AS c (scope, attempts, window_ends_at, blocked_until, trusted_until)
     ON CONFLICT (name, scope) DO UPDATE SET attempts = excluded.attempts, window_ends_at = excluded.window_ends_at,
       blocked_until = excluded.blocked_until, trusted_until = excluded.trusted_until, expires_at = excluded.expires_at`,
    [
      name,
      column(([scope]) => scope),
      column(([, counter]) => counter.attempts),
      column(([, counter]) => counter.windowEndsAt),
      column(([, counter]) => counter.blockedUntil),
      column(([, , trustedUntil]) => trustedUntil),
    ],
  );
}
