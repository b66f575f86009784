import type { Rejection } from './reason-codes.ts';

/** The checks a token goes through, in the order they run. */
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
  'jti',
  'exp',
  'iat',
  'lifetime',
  'aud',
  'role',
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
 * Records check outcomes. Authentication runs it in `firstFailure` mode: nothing is kept for
 * passing checks and the caller stops at the first rejection, so the hot path allocates almost
 * nothing. /auth/hello runs it in `report` mode and keeps every check, passed, failed or skipped.
 */
export class CheckRun {
  readonly report: boolean;
  readonly results: CheckResult[] = [];
  failure: Rejection | undefined;

  constructor(mode: 'firstFailure' | 'report') {
    this.report = mode === 'report';
  }

  /** Returns true when the check passed. `describe` is called only in report mode. */
  record(name: CheckName, rejection: Rejection | undefined, describe?: () => PassDetail): boolean {
    if (rejection) {
      this.failure ??= rejection;
      if (this.report) this.results.push({ name, ok: false, ...rejection });
      return false;
    }
    if (this.report) this.results.push({ name, ok: true, ...(describe?.() ?? { message: 'ok' }) });
    return true;
  }

  skip(name: CheckName, because: CheckName): void {
    if (this.report) {
      this.results.push({
        name,
        ok: false,
        skipped: true,
        message: `Not checked: the ${because} check failed.`,
      });
    }
  }

  skipAll(names: readonly CheckName[], because: CheckName): void {
    for (const name of names) this.skip(name, because);
  }
}
