import { DEFAULT_LOCKOUT, type LockoutPolicy } from './lockout.ts';

/** How long sessions live and when logins lock; the defaults are DESIGN.md's. */
export interface SessionPolicy {
  /** A session unused this long ends. */
  idleSeconds: number;
  /** A session ends this long after login, however active. */
  absoluteSeconds: number;
  lockout: LockoutPolicy;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  idleSeconds: 30 * 60,
  absoluteSeconds: 12 * 3600,
  lockout: DEFAULT_LOCKOUT,
};
