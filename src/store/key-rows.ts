import { randomUUID } from 'node:crypto';
import type { KeyRecord } from '../core/key-record.ts';
import { ConflictError, type NewKey } from './store.ts';

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
