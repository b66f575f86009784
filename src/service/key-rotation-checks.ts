import type { KeyRecord } from '../core/key-record.ts';
import { InputError } from './input-error.ts';

/** The longest a rotated-out key may keep signing: long enough for a weekly deploy, no longer. */
export const MAX_GRACE_SECONDS = 7 * 86400;

/** Refuses a grace period that is not a whole number of seconds within MAX_GRACE_SECONDS. */
export function checkGraceSeconds(grace: number): void {
  if (!Number.isSafeInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    throw new InputError(
      'invalid_input',
      'grace_seconds',
      `grace_seconds must be a whole number from 0 to ${MAX_GRACE_SECONDS} (7 days).`,
      'Give how long the old key may keep signing while your clients switch, e.g. 86400 for a day.',
    );
  }
}

/** A key already rotated out, disabled or revoked has nothing left to hand over to a replacement. */
export function checkRotatable(old: KeyRecord, kid: string): void {
  if (old.status !== 'active' || old.revokesAt !== null) {
    throw new InputError(
      'conflict',
      'kid',
      old.revokesAt !== null
        ? `Key ${kid} is already being rotated out (replaced by ${old.replacedBy}).`
        : `Key ${kid} is ${old.status}; only an active key can be rotated.`,
      'Rotate the key that replaced it, or register a new key.',
    );
  }
}
