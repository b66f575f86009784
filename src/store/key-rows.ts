import { randomUUID } from 'node:crypto';
import type { KeyFamily } from '../core/algorithms.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import type { Role } from '../core/roles.ts';
import { ConflictError, type KeyState, type NewKey } from './store.ts';

type Row = Record<string, unknown>;

/** What every store does with a key it is about to insert: a fresh id, active, never used. */
export function newKeyRecord(key: NewKey, now: number): KeyRecord {
  return {
    ...key,
    id: randomUUID(),
    status: 'active',
    revokesAt: null,
    replacedBy: null,
    createdAt: now,
    lastUsedAt: null,
  };
}

/** The refusal of a public key that is registered already, in this organization or another. */
export function thumbprintConflict(inSameOrg: boolean): ConflictError {
  if (inSameOrg)
    return new ConflictError('public_key', 'This organization has already registered this public key.');
  // Never which organization: that is another tenant's business.
  return new ConflictError(
    'public_key',
    'This public key is registered to another organization. Make a new key pair for each organization: a key pair belongs to one organization only.',
    'Make one with "keygate keygen --out new.key" and register new.key.pub.',
  );
}

/**
 * A keys row of either store, with `roles` as a list: PostgreSQL's TEXT[] arrives as one, and
 * sqlite-keys.ts splits its comma-separated column before calling this.
 */
export function toKey(row: Row): KeyRecord {
  return {
    id: String(row.id),
    orgId: String(row.org_id),
    spkiPem: String(row.spki_pem),
    thumbprint: String(row.thumbprint),
    family: String(row.family) as KeyFamily,
    bits: Number(row.bits),
    status: String(row.status) as KeyStatus,
    expiresAt: nullableNumber(row.expires_at),
    roles: [...(row.roles as string[])] as Role[],
    defaultRole: String(row.default_role) as Role,
    label: nullableString(row.label),
    ownerUserId: nullableString(row.owner_user_id),
    revokesAt: nullableNumber(row.revokes_at),
    replacedBy: nullableString(row.replaced_by),
    createdAt: Number(row.created_at),
    lastUsedAt: nullableNumber(row.last_used_at),
  };
}

export function toKeyState(row: Row): KeyState {
  return {
    id: String(row.id),
    status: String(row.status) as KeyStatus,
    expiresAt: nullableNumber(row.expires_at),
    revokesAt: nullableNumber(row.revokes_at),
  };
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function nullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
