import { CodedError } from '../core/error-codes.ts';

/**
 * How current a node's view of the key change feed is. A node that cannot read the feed may
 * have missed a revocation, so once the last successful read began more than `maxLagMs` ago
 * its memory is `stale`: the key directory then reads the feed before answering from memory,
 * and refuses (`refusal`) when that read fails or a read has hung past the bound. An event loop
 * that was only busy (the poll's timer late) costs one read, never a refusal.
 */
export class FeedWatch {
  readonly maxLagMs: number;
  private readonly nowMs: () => number;
  /** When the last successful read began: what it answered was current as of then. */
  private currentAt: number;
  /** When the read under way began, if one is. */
  private readingSince: number | undefined;
  private lastError: unknown;

  constructor(maxLagMs: number, nowMs: () => number) {
    this.maxLagMs = maxLagMs;
    this.nowMs = nowMs;
    this.currentAt = nowMs();
  }

  /** Marks a read begun; pass what it returns to `succeeded` once the read has answered. */
  begin(): number {
    const now = this.nowMs();
    this.readingSince ??= now;
    return now;
  }

  succeeded(startedAt: number): void {
    this.currentAt = Math.max(this.currentAt, startedAt);
    this.readingSince = undefined;
    this.lastError = undefined;
  }

  failed(error: unknown): void {
    this.readingSince = undefined;
    this.lastError = error;
  }

  get stale(): boolean {
    return this.nowMs() - this.currentAt > this.maxLagMs;
  }

  /** A read under way has gone unanswered past the bound: waiting on it would hold the request. */
  get hung(): boolean {
    return this.readingSince !== undefined && this.nowMs() - this.readingSince > this.maxLagMs;
  }

  /** Why memory is not trusted, in words safe for /readyz; undefined while it is current. */
  reason(): string | undefined {
    if (!this.stale) return undefined;
    const lag = Math.round(this.nowMs() - this.currentAt);
    const cause = this.hung
      ? `a read has not answered for ${Math.round(this.nowMs() - (this.readingSince as number))} ms`
      : this.lastError === undefined
        ? 'no read has finished since'
        : `the store failed (${this.lastError instanceof CodedError ? this.lastError.refusal.code : 'error'})`;
    return `key changes were last read from the store ${lag} ms ago, more than the ${this.maxLagMs} ms KEYGATE_KEY_FEED_MAX_LAG_MS allows: ${cause}`;
  }

  /** The refusal of a request that would need memory while it cannot be trusted. */
  refusal(): CodedError {
    return new CodedError('keys_stale', undefined, {
      cause: this.lastError,
      internalMessage: `Refused from the key caches: ${this.reason() ?? 'stale'}`,
    });
  }
}
