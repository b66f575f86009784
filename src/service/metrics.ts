import { ERROR_CODE_LIST, type ErrorCode } from '../core/error-codes.ts';
import { REASON_CODE_LIST, type ReasonCode } from '../core/reason-codes.ts';

/** How a token was checked: as a key-pair token, a session token, or not read far enough to tell. */
export type DecisionMethod = 'key' | 'session' | 'unknown';
export type DecisionOutcome = 'accepted' | ReasonCode;
export const DECISION_METHODS: readonly DecisionMethod[] = ['key', 'session', 'unknown'];
export const DECISION_OUTCOMES: readonly DecisionOutcome[] = ['accepted', ...REASON_CODE_LIST];

/** A login as it ended: accepted, refused by the throttle, or with the error code it was answered. */
export type LoginOutcome = 'accepted' | 'throttled' | ErrorCode;

/** Upper bounds in seconds: 10 us (a check from memory) to 100 ms (a store under strain). */
export const VERIFICATION_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
] as const;
/** A store call may take far longer than a check: up to a second before +Inf. */
export const STORE_BUCKETS = [...VERIFICATION_BUCKETS, 0.25, 0.5, 1] as const;

/**
 * A latency histogram with fixed buckets, observed with a few comparisons and one increment: no
 * label hashing on the request path. prom-client reads it when /metrics is scraped.
 */
export class LatencyCounts {
  readonly bounds: readonly number[];
  /** One count per bucket, not cumulative; the last one counts what exceeded every bound. */
  readonly counts: Float64Array;
  sum = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    let bucket = 0;
    for (const bound of this.bounds) {
      if (seconds <= bound) break;
      bucket++;
    }
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.sum += seconds;
  }
}

/** One store method's calls, the calls that failed, and how long they took. */
export interface StoreCallCounts {
  calls: number;
  errors: number;
  readonly latency: LatencyCounts;
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

/**
 * What one Keygate process counts, as plain numbers in objects allocated once: the request path
 * pays an increment, and nothing of prom-client. Labels are closed sets (methods, reason codes,
 * error codes, store method names): never a kid, an organization or a user, which would leak who
 * uses the service and grow without bound.
 */
export class Metrics {
  /** Tokens checked in full (the verified-token cache could not answer them), by method and outcome. */
  readonly decisions: Record<DecisionMethod, Record<DecisionOutcome, number>> = {
    key: zeroes(DECISION_OUTCOMES),
    session: zeroes(DECISION_OUTCOMES),
    unknown: zeroes(DECISION_OUTCOMES),
  };
  /** Key-pair tokens the verified-token cache answered: each one accepted with no other check. */
  tokenCacheAnswers = 0;
  /** Kids looked up in the key directory: answered from memory (hit) or after a store read (miss). */
  readonly keyLookups = { hit: 0, miss: 0 };
  /** Seconds from a token's arrival to its answer, for tokens checked in full. */
  readonly verification: Record<'key' | 'session', LatencyCounts> = {
    key: new LatencyCounts(VERIFICATION_BUCKETS),
    session: new LatencyCounts(VERIFICATION_BUCKETS),
  };
  readonly logins = new Map<LoginOutcome, number>(
    (['accepted', 'invalid_credentials', 'throttled', 'rate_limited', 'busy'] as const).map((o) => [o, 0]),
  );
  /** Error answers (429, 503 and the rest) by code; token refusals are `decisions`. */
  readonly refusals: Record<ErrorCode, number> = zeroes(ERROR_CODE_LIST);
  /** By store method name, filled as methods are first called (timed-store.ts). */
  readonly store = new Map<string, StoreCallCounts>();

  /** A token checked in full; `seconds` is how long, when it got as far as a key or a session. */
  decided(method: DecisionMethod, outcome: DecisionOutcome, seconds?: number): void {
    this.decisions[method][outcome]++;
    if (seconds !== undefined && method !== 'unknown') this.verification[method].observe(seconds);
  }

  login(outcome: LoginOutcome): void {
    this.logins.set(outcome, (this.logins.get(outcome) ?? 0) + 1);
  }

  refused(code: ErrorCode): void {
    this.refusals[code]++;
  }

  storeCall(method: string): StoreCallCounts {
    let counts = this.store.get(method);
    if (!counts) {
      counts = { calls: 0, errors: 0, latency: new LatencyCounts(STORE_BUCKETS) };
      this.store.set(method, counts);
    }
    return counts;
  }
}
