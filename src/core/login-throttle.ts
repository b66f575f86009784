import type { UnixSeconds } from './time.ts';

/**
 * One counter's limits: `freeAttempts` attempts in a window of `windowSeconds`, after which each
 * attempt must wait, `baseDelaySeconds` at first and doubling with every further attempt up to
 * `maxDelaySeconds`.
 */
export interface ThrottleLimits {
  windowSeconds: number;
  freeAttempts: number;
  baseDelaySeconds: number;
  maxDelaySeconds: number;
}

/**
 * How login attempts are throttled (OWASP's authentication guidance): every attempt is counted
 * before its password is hashed, under the login name whether or not an account has it, once per
 * (name, client address) and once for the name from every address together.
 */
export interface LoginThrottlePolicy {
  /** Tight: one address gets a handful of guesses at an account, then waits longer and longer. */
  perAddress: ThrottleLimits;
  /**
   * High, and past it only a short wait: guesses spread over many addresses slow down, but no
   * one can keep the owner out for longer than `maxDelaySeconds` at a time.
   */
  perAccount: ThrottleLimits;
  /** An address the account logged in from is exempt from the account-wide wait this long. */
  trustSeconds: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottlePolicy = {
  perAddress: { windowSeconds: 24 * 3600, freeAttempts: 5, baseDelaySeconds: 30, maxDelaySeconds: 15 * 60 },
  perAccount: { windowSeconds: 3600, freeAttempts: 100, baseDelaySeconds: 30, maxDelaySeconds: 30 },
  trustSeconds: 30 * 24 * 3600,
};

/** One counter as the store keeps it. A window that has ended counts as no attempts. */
export interface AttemptCounter {
  attempts: number;
  windowEndsAt: UnixSeconds;
  /** No attempt under this counter is hashed before this time (0: none waits). */
  blockedUntil: UnixSeconds;
}

/** A per-address counter, which also remembers that the account logged in from that address. */
export interface AddressCounter extends AttemptCounter {
  trustedUntil: UnixSeconds;
}

/** One of a name's stored counters: `address` null is the account-wide one. */
export interface LoginAttemptRecord extends AddressCounter {
  address: string | null;
}

export type AttemptDecision =
  | { allowed: true; account: AttemptCounter; address: AttemptCounter }
  | { allowed: false; retryAfterSeconds: number };

/**
 * Whether one more attempt may be hashed now and, if so, both counters with it counted. The store
 * reads the counters, calls this and writes the result in one transaction, so concurrent attempts
 * (any number of them, from any number of processes) never pass on the same count.
 */
export function decideAttempt(
  account: AttemptCounter | undefined,
  address: AddressCounter | undefined,
  now: UnixSeconds,
  policy: LoginThrottlePolicy,
): AttemptDecision {
  const trusted = (address?.trustedUntil ?? 0) > now;
  const until = Math.max(address?.blockedUntil ?? 0, trusted ? 0 : (account?.blockedUntil ?? 0));
  if (until > now) return { allowed: false, retryAfterSeconds: until - now };
  return {
    allowed: true,
    account: counted(account, now, policy.perAccount),
    address: counted(address, now, policy.perAddress),
  };
}

function counted(
  counter: AttemptCounter | undefined,
  now: UnixSeconds,
  limits: ThrottleLimits,
): AttemptCounter {
  const live = counter !== undefined && counter.windowEndsAt > now;
  const attempts = (live ? counter.attempts : 0) + 1;
  const over = attempts - limits.freeAttempts;
  const delay = Math.min(
    limits.baseDelaySeconds * 2 ** Math.min(Math.max(over, 0), 30),
    limits.maxDelaySeconds,
  );
  return {
    attempts,
    windowEndsAt: live ? counter.windowEndsAt : now + limits.windowSeconds,
    blockedUntil: over < 0 ? 0 : now + delay,
  };
}

/** What an operator sees of a name's throttle (`keygate user list`). */
export interface LoginThrottleState {
  /** Attempts counted against the account in its window since its last successful login. */
  failures: number;
  /** Client addresses that must wait before their next attempt at this account. */
  throttledAddresses: number;
  /** Until when addresses the account has not logged in from lately must wait; null: they need not. */
  accountThrottledUntil: UnixSeconds | null;
  /** When the last of these waits ends; null when nothing waits. */
  throttledUntil: UnixSeconds | null;
}

export function throttleState(records: readonly LoginAttemptRecord[], now: UnixSeconds): LoginThrottleState {
  const account = records.find((record) => record.address === null);
  const waiting = records.filter((record) => record.address !== null && record.blockedUntil > now);
  const accountUntil = account !== undefined && account.blockedUntil > now ? account.blockedUntil : null;
  const until = Math.max(accountUntil ?? 0, ...waiting.map((record) => record.blockedUntil));
  return {
    failures: account !== undefined && account.windowEndsAt > now ? account.attempts : 0,
    throttledAddresses: waiting.length,
    accountThrottledUntil: accountUntil,
    throttledUntil: until > now ? until : null,
  };
}

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/;

/**
 * The client address a login attempt is counted under. An IPv6 client is normally given a whole
 * /64 (a home, a host), so counting each of its addresses apart would hand it 2^64 fresh counters:
 * IPv6 is counted per /64. An IPv4-mapped IPv6 address counts as its IPv4 address.
 */
export function clientScope(ip: string): string {
  // Only a proxy's forwarded header can make this long; the cap keeps such a key small.
  const address = ip.trim().toLowerCase().replace(/%.*$/, '').slice(0, 100);
  if (address === '') return 'unknown';
  if (!address.includes(':')) return address;
  const mapped = IPV4_MAPPED.exec(address);
  if (mapped) return mapped[1] as string;
  const halves = address.split('::');
  if (halves.length > 2) return address;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  // A dotted IPv4 at the end stands for two groups.
  const tailGroups = tail.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const missing = 8 - head.length - tailGroups;
  if (halves.length === 2 && missing < 1) return address;
  const groups = halves.length === 2 ? [...head, ...Array<string>(missing).fill('0'), ...tail] : head;
  const prefix = groups.slice(0, 4);
  if (prefix.length < 4 || !prefix.every((group) => HEX_GROUP.test(group))) return address;
  return `${prefix.map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}
