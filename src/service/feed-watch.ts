import { CodedError } from '../core/error-codes.ts';

/**
 * How current a node's view of the key change feed is. A node that cannot read the feed may
 * have missed a revocation, so once the last successful read is older than `maxLagMs` it stops
 * answering from its caches (`stale`), and says why (`reason`) for /readyz and the refusal's
 * log line, until a read succeeds again.
 */
export class FeedWatch {
  readonly maxLagMs: number;
  private readonly nowMs: () => number;
  /** When the last successful read began: what it answered was current as of then. */
  private currentAt: number;
  private lastError: unknown;

  constructor(maxLagMs: number, nowMs: () => number) {
    this.maxLagMs = maxLagMs;
    this.nowMs = nowMs;
    this.currentAt = nowMs();
  }

  /** A time to pass to `succeeded` once a read begun now has answered. */
  begin(): number {
    return this.nowMs();
  }

  succeeded(startedAt: number): void {
    this.currentAt = Math.max(this.currentAt, startedAt);
    this.lastError = undefined;
  }

  failed(error: unknown): void {
    this.lastError = error;
  }

  get stale(): boolean {
    return this.nowMs() - this.currentAt > this.maxLagMs;
  }

  /** Why the node is stale, in words safe for /readyz; undefined while it is current. */
  reason(): string | undefined {
    if (!this.stale) return undefined;
    const lag = Math.round(this.nowMs() - this.currentAt);
    const cause =
      this.lastError === undefined
        ? 'no read of it has finished'
        : `the store failed (${this.lastError instanceof CodedError ? this.lastError.refusal.code : 'error'})`;
    return `key changes were last read from the store ${lag} ms ago, more than the ${this.maxLagMs} ms KEYGATE_KEY_FEED_MAX_LAG_MS allows: ${cause}`;
  }

  /** The refusal of a request that would need the caches while they cannot be trusted. */
  refusal(): CodedError {
    return new CodedError('keys_stale', undefined, {
      cause: this.lastError,
      internalMessage: `Refused from the key caches: ${this.reason() ?? 'stale'}`,
    });
  }
}
