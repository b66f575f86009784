import { randomUUID } from 'node:crypto';
import type { ServerKeyRecord, SessionRecord, UserRecord, UserStatus } from '../core/account-records.ts';
import type { AddressCounter, LoginAttemptRecord } from '../core/login-throttle.ts';
import type { Role } from '../core/roles.ts';
import type { Org } from './store.ts';

// Account rows read the same from either store: the same column names, and values that Number()
// and String() read alike whether the driver hands over a number, a bigint or a numeric string.

type Row = Record<string, unknown>;

/** What every store does with an organization it is about to insert: a fresh id. */
export function newOrg(input: { name: string; singleUseTokens?: boolean }, now: number): Org {
  return {
    id: randomUUID(),
    name: input.name,
    singleUseTokens: input.singleUseTokens ?? false,
    createdAt: now,
  };
}

export function toUser(row: Row): UserRecord {
  return {
    id: String(row.id),
    orgId: String(row.org_id),
    email: String(row.email),
    screenName: String(row.screen_name),
    role: String(row.role) as Role,
    status: String(row.status) as UserStatus,
    passwordHash: String(row.password_hash),
    createdAt: Number(row.created_at),
  };
}

export function toSession(row: Row): SessionRecord {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    role: String(row.role) as Role,
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    revokedAt: row.revoked_at === null || row.revoked_at === undefined ? null : Number(row.revoked_at),
    revokedReason:
      row.revoked_reason === null || row.revoked_reason === undefined ? null : String(row.revoked_reason),
  };
}

/**
 * Every server key, either dialect. The columns are named: a statement prepared with `*` fails
 * on PostgreSQL once a newer node's migration adds one (postgres-rows.ts).
 */
export const SERVER_KEY_QUERY =
  'SELECT id, sealed_private_key, public_jwk, status, created_at, retired_at FROM server_keys ORDER BY created_at, id';

export function toServerKey(row: Row): ServerKeyRecord {
  return {
    id: String(row.id),
    sealedPrivateKey:
      row.sealed_private_key === null || row.sealed_private_key === undefined
        ? null
        : String(row.sealed_private_key),
    publicJwk: String(row.public_jwk),
    status: String(row.status) as ServerKeyRecord['status'],
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null || row.retired_at === undefined ? null : Number(row.retired_at),
  };
}

/** The scope of a name's account-wide login attempt counter; a client address is never empty. */
export const ACCOUNT_SCOPE = '';

/** An empty address would be the account-wide counter: a caller's bug, never a client's input. */
export function requireAddress(address: string): void {
  if (address === ACCOUNT_SCOPE) throw new TypeError('A login attempt needs a client address.');
}

export function toAttemptCounter(row: Row): AddressCounter {
  return {
    attempts: Number(row.attempts),
    windowEndsAt: Number(row.window_ends_at),
    blockedUntil: Number(row.blocked_until),
    trustedUntil: Number(row.trusted_until),
  };
}

export function toAttemptRecord(row: Row): LoginAttemptRecord {
  return { address: row.scope === ACCOUNT_SCOPE ? null : String(row.scope), ...toAttemptCounter(row) };
}
