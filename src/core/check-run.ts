import type { Rejection } from './reason-codes.ts';

/** Every check a token can go through, in the order /auth/hello lists them. */
export const CHECK_NAMES = [
  'token',
  'format',
  'header',
  'alg',
  'kid',
  'key',
  'algorithm',
  'signature',
  'iss',
  'sub',
  'owner',
  'jti',
  'exp',
  'iat',
  'nbf',
  'lifetime',
  'aud',
  'role',
  'sid',
  'replay',
  'session',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface PassDetail {
  message: string;
  expected?: string;
  actual?: string;
  /** Passed, but with something the client should change (for example a defaulted role). */
  warning?: string;
}

export interface CheckResult {
  name: CheckName;
  ok: boolean;
  skipped?: boolean;
  code?: Rejection['code'];
  message: string;
  expected?: string;
  actual?: string;
  hint?: string;
  warning?: string;
}

/**
 * What one check found: a typed value for the checks after it, or a rejection. `detail` is
 * called only when /auth/hello asks, so the hot path formats nothing.
 */
export type Outcome<T> =
  | { ok: true; value: T; detail?: () => PassDetail }
  | { ok: false; rejection: Rejection };

export function pass<T>(value: T, detail?: () => PassDetail): Outcome<T> {
  return detail ? { ok: true, value, detail } : { ok: true, value };
}

export function fail(rejection: Rejection): Outcome<never> {
  return { ok: false, rejection };
}

/** A step of a pipeline, by name and what it needs, whoever computes its outcome. */
export interface Step {
  readonly name: CheckName;
  readonly needs: readonly CheckName[];
}

/**
 * One row of a check table over the values `V` that a token kind's checks produce, with `E` the
 * inputs they share (the parsed token, the key, the policy, now).
 */
export interface Check<V, E> extends Step {
  /** Runs the check on the values so far and, when it passes, stores its own value among them. */
  apply(values: Partial<V>, env: E): Outcome<unknown>;
}

/**
 * Declares a check whose `run` sees exactly the values it `needs`, typed: reading anything else
 * is a compile error, so a check cannot quietly depend on one that may not have run.
 */
export function defineCheck<V, E>() {
  return <N extends keyof V & CheckName, D extends keyof V & CheckName>(check: {
    name: N;
    needs: readonly D[];
    run(values: Pick<V, D>, env: E): Outcome<V[N]>;
  }): Check<V, E> => ({
    name: check.name,
    needs: check.needs,
    apply(values, env) {
      // Sound because the runner calls apply only once every name in `needs` has passed, and a
      // passing check stores its value under its name (just below).
      const outcome = check.run(values as Pick<V, D>, env);
      if (outcome.ok) values[check.name] = outcome.value;
      return outcome;
    },
  });
}

/**
 * Fails at load time unless every check needs only checks before it (or `given` ones). That
 * order is what lets the first-failure runner skip looking at `needs` on the hot path.
 */
export function checkTable<V, E>(given: readonly CheckName[], table: Check<V, E>[]): readonly Check<V, E>[] {
  const seen = new Set<CheckName>(given);
  for (const check of table) {
    const missing = check.needs.find((need) => !seen.has(need));
    if (missing) throw new Error(`check "${check.name}" needs "${missing}", which does not run before it`);
    seen.add(check.name);
  }
  return table;
}

/** Each check's slot of `table`, empty: a run's values copied from it keep one shape. */
export function emptySlots<V, E>(table: readonly Check<V, E>[]): Partial<V> {
  return Object.fromEntries(table.map((check) => [check.name, undefined])) as Partial<V>;
}

/** Shared by every first-failure run, which never adds to it. */
const NOTHING_PASSED: Set<CheckName> = new Set();

/**
 * Runs check tables in one of two modes. `first-failure` (authentication) stops at the first
 * rejection and keeps nothing for passing checks, so it allocates almost nothing. `report`
 * (/auth/hello) runs every check whose needs passed, records the rest as skipped because of the
 * first need that did not pass, and keeps every result.
 */
export class CheckRun {
  readonly report: boolean;
  readonly results: CheckResult[] = [];
  failure: Rejection | undefined;
  /** Read and written in report mode only: a first-failure run (one per token) makes none. */
  private readonly passed: Set<CheckName>;

  constructor(mode: 'first-failure' | 'report') {
    this.report = mode === 'report';
    this.passed = this.report ? new Set() : NOTHING_PASSED;
  }

  /**
   * Runs `table` in order over `values` (which may hold values of earlier tables) and returns
   * them, filled in by every check that passed. Names in `values` count as passed checks.
   */
  execute<V, E>(table: readonly Check<V, E>[], env: E, values: Partial<V>): Partial<V> {
    // A value handed in is the value of a check that passed (in an earlier table or by the caller).
    if (this.report) {
      for (const [name, value] of Object.entries(values)) {
        // An empty slot (emptySlots) is no check that passed.
        if (value !== undefined) this.passed.add(name as CheckName);
      }
    }
    for (const check of table) {
      if (this.ready(check)) this.record(check, check.apply(values, env));
    }
    return values;
  }

  /**
   * Whether `step` can run: in first-failure mode, nothing failed yet; in report mode, all its
   * needs passed. When it cannot, report mode records it as skipped.
   */
  ready(step: Step): boolean {
    if (!this.report) return this.failure === undefined;
    const missing = step.needs.find((need) => !this.passed.has(need));
    if (missing === undefined) return true;
    this.results.push({
      name: step.name,
      ok: false,
      skipped: true,
      message: `Not checked: it needs the ${missing} check, which did not pass.`,
    });
    return false;
  }

  /** Records the outcome of a step that a service computed itself (it did I/O); call after `ready`. */
  record(step: Step, outcome: Outcome<unknown>): boolean {
    if (outcome.ok) this.pass(step.name, outcome.detail);
    else this.fail(step.name, outcome.rejection);
    return outcome.ok;
  }

  private pass(name: CheckName, detail: (() => PassDetail) | undefined): void {
    if (!this.report) return;
    this.passed.add(name);
    this.results.push({ name, ok: true, ...(detail?.() ?? { message: 'ok' }) });
  }

  private fail(name: CheckName, rejection: Rejection): void {
    this.failure ??= rejection;
    if (this.report) this.results.push({ name, ok: false, ...rejection });
  }
}
