import { DEFAULT_LOGIN_THROTTLE, type LoginThrottlePolicy } from './login-throttle.ts';

/** How long sessions live and how logins are throttled; the defaults are DESIGN.md's. */
export interface SessionPolicy {
  /** A session unused this long ends. */
  idleSeconds: number;
  /** A session ends this long after login, however active. */
  absoluteSeconds: number;
  loginThrottle: LoginThrottlePolicy;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  idleSeconds: 30 * 60,
  absoluteSeconds: 12 * 3600,
  loginThrottle: DEFAULT_LOGIN_THROTTLE,
};
