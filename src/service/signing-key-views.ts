import type { Algorithm } from '../core/algorithms.ts';
import { ALGORITHMS_BY_FAMILY } from '../core/algorithms.ts';
import { type KeyExpiry, keyExpiry } from '../core/key-expiry.ts';
import type { KeyRecord } from '../core/key-record.ts';
import { type KeyUsage, noUsage } from '../core/key-usage.ts';
import type { Role } from '../core/roles.ts';
import { isoTime } from '../core/time.ts';
import type { RegisteredKey } from './key-admin.ts';

export type KeyOwnerView = { type: 'org'; id: string } | { type: 'user'; id: string; email: string | null };

/** A key's counted tokens as GET /auth/signing-keys shows them. */
export interface KeyUsageView extends KeyUsage {
  last_used_at: string | null;
}

/** A key as GET /auth/signing-keys lists it. */
export interface KeyView extends KeyExpiry {
  key_id: string;
  org_id: string;
  status: KeyRecord['status'];
  label: string | null;
  fingerprint: string;
  family: KeyRecord['family'];
  bits: number;
  algorithms: readonly Algorithm[];
  roles: Role[];
  default_role: Role;
  owner: KeyOwnerView;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revokes_at: string | null;
  replaced_by: string | null;
  usage: KeyUsageView;
}

/** What a key's view needs besides its record, read once for every key listed. */
export interface ViewContext {
  emails: ReadonlyMap<string, string | null>;
  usage: ReadonlyMap<string, KeyUsage>;
  now: number;
  expiryWarningSeconds: number;
}

/** What a registration answers: the key's ids, algorithms and roles, and whose it is. */
export type RegistrationView = Omit<RegisteredKey, 'owner_user_id'> & { owner: KeyOwnerView };

/** `now` decides the status of a key whose rotation grace has ended before the sweep marked it. */
export function keyView(
  record: KeyRecord,
  { emails, usage, now, expiryWarningSeconds }: ViewContext,
): KeyView {
  const used = usage.get(record.id) ?? noUsage();
  return {
    key_id: record.id,
    org_id: record.orgId,
    status: record.revokesAt !== null && now >= record.revokesAt ? 'revoked' : record.status,
    label: record.label,
    fingerprint: record.thumbprint,
    family: record.family,
    bits: record.bits,
    algorithms: ALGORITHMS_BY_FAMILY[record.family],
    roles: record.roles,
    default_role: record.defaultRole,
    owner:
      record.ownerUserId === null
        ? { type: 'org', id: record.orgId }
        : { type: 'user', id: record.ownerUserId, email: emails.get(record.ownerUserId) ?? null },
    created_at: isoTime(record.createdAt),
    last_used_at: record.lastUsedAt === null ? null : isoTime(record.lastUsedAt),
    expires_at: record.expiresAt === null ? null : isoTime(record.expiresAt),
    revokes_at: record.revokesAt === null ? null : isoTime(record.revokesAt),
    replaced_by: record.replacedBy,
    ...keyExpiry(record, now, expiryWarningSeconds),
    usage: {
      accepted: used.accepted,
      refused: used.refused,
      last_used_at: record.lastUsedAt === null ? null : isoTime(record.lastUsedAt),
    },
  };
}
