import type { UnixSeconds } from './time.ts';

export interface LockoutPolicy {
  /** Failed logins allowed before the account locks. */
  freeAttempts: number;
  /** The first lock; each further failure doubles it. */
  baseSeconds: number;
  maxSeconds: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { freeAttempts: 5, baseSeconds: 30, maxSeconds: 3600 };

/** When an account with `failures` consecutive failed logins unlocks: exponential, capped. */
export function lockedUntil(failures: number, now: UnixSeconds, policy: LockoutPolicy): UnixSeconds | null {
  if (failures < policy.freeAttempts) return null;
  const doublings = Math.min(failures - policy.freeAttempts, 30);
  return now + Math.min(policy.baseSeconds * 2 ** doublings, policy.maxSeconds);
}
