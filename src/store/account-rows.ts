import type { SessionRecord, UserRecord, UserStatus } from '../core/account-records.ts';
import type { Role } from '../core/roles.ts';

// Account rows read the same from either store: the same column names, and values that Number()
// and String() read alike whether the driver hands over a number, a bigint or a numeric string.

type Row = Record<string, unknown>;

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
