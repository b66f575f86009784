import type { KeyRecord } from './key-record.ts';
import { isoTime, type UnixSeconds } from './time.ts';

/** How long before a key's expiry it is flagged (KEYGATE_KEY_EXPIRY_WARNING_DAYS). */
export const DEFAULT_KEY_EXPIRY_WARNING_DAYS = 14;

export interface KeyExpiry {
  /** The key still signs, but its expiry is within the warning window: time to rotate. */
  expires_soon: boolean;
  /** Seconds until the key expires (0 once it has); null for a key without an expiry. */
  expires_in_seconds: number | null;
}

type ExpiringKey = Pick<KeyRecord, 'status' | 'expiresAt' | 'revokesAt'>;

/**
 * Whether a key is about to stop working by itself. Only a key that can still sign is flagged:
 * a revoked key, or one already being rotated out, needs no warning about its expiry.
 */
export function keyExpiry(key: ExpiringKey, now: UnixSeconds, warningSeconds: number): KeyExpiry {
  if (key.expiresAt === null) return { expires_soon: false, expires_in_seconds: null };
  const left = Math.max(0, key.expiresAt - now);
  const signs = key.status !== 'revoked' && key.revokesAt === null;
  return { expires_soon: signs && left > 0 && left <= warningSeconds, expires_in_seconds: left };
}

/** What /auth/hello warns about a key that expires soon, or undefined when it does not. */
export function keyExpiryWarning(
  key: ExpiringKey & Pick<KeyRecord, 'id'>,
  now: UnixSeconds,
  warningSeconds: number,
): string | undefined {
  if (key.expiresAt === null || !keyExpiry(key, now, warningSeconds).expires_soon) return undefined;
  const days = Math.floor((key.expiresAt - now) / 86400);
  const within = days === 0 ? 'under a day' : days === 1 ? '1 day' : `${days} days`;
  return (
    `Key ${key.id} expires at ${isoTime(key.expiresAt)} (in ${within}). ` +
    'Register a new key and move your clients to it before then (POST /auth/signing-keys/:kid/rotate).'
  );
}
