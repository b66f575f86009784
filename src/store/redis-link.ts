import { Redis } from 'ioredis';
import { commandOutage, connectionReason, RedisUnavailableError } from './redis-errors.ts';

export interface RedisLinkOptions {
  /** Put before every key Keygate writes (KEYGATE_REDIS_PREFIX), so that one Redis can serve several deployments. */
  prefix?: string;
  /** How long a command may wait for its answer (KEYGATE_REDIS_TIMEOUT_MS). */
  timeoutMs?: number;
}

export const DEFAULT_REDIS_PREFIX = 'keygate:';
export const DEFAULT_REDIS_TIMEOUT_MS = 1000;

/** Reconnecting waits grow to this and no longer: a node is back within a second of Redis. */
const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * One connection to the Redis that KEYGATE_REDIS_URL names, shared by the replay ledger and the
 * rate limiter. Every command fails fast while the connection is down rather than queueing: a
 * request waiting on Redis holds a client and a socket, and an answer that comes after the
 * client gave up helps nobody. So nothing is queued while disconnected (enableOfflineQueue),
 * a command in flight when the connection drops is failed, not sent again after reconnecting
 * (sent again, a binding whose first run did commit would answer its own token 'same-token',
 * which an organization with single-use tokens refuses), and every command has a deadline. ioredis reconnects on its own; the node needs nothing else
 * to recover.
 */
export class RedisLink {
  readonly client: Redis;
  readonly prefix: string;
  readonly timeoutMs: number;
  /** What the last failed connection attempt reported, for /readyz; cleared once connected. */
  private lastError: unknown;

  constructor(url: string, options: RedisLinkOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    this.client = new Redis(url, {
      connectionName: 'keygate',
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.timeoutMs,
      connectTimeout: Math.max(this.timeoutMs, 1000),
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    });
    // Without a listener ioredis prints every failed attempt; the reason is kept for /readyz.
    this.client.on('error', (error: unknown) => {
      this.lastError = error;
    });
    this.client.on('ready', () => {
      this.lastError = undefined;
    });
  }

  /**
   * Waits up to `waitMs` for the first connection, so that a node starting beside a running
   * Redis does not refuse its first requests. Redis still down after that is not fatal: the
   * requests that need it get 503 and /readyz says why until it comes.
   */
  async connected(waitMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), waitMs);
      this.client.on('ready', onReady);
    });
  }

  /** Answers, or fails with RedisUnavailableError saying why: what /readyz asks. */
  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (error) {
      throw this.failure(error);
    }
  }

  /**
   * `error` as RedisUnavailableError when it means Redis cannot serve; any other error (a bug)
   * is returned as it is.
   */
  failure(error: unknown): unknown {
    if (error instanceof RedisUnavailableError) return error;
    const reason = commandOutage(error, this.timeoutMs);
    if (reason === undefined) return error;
    const why = this.client.status === 'ready' ? undefined : connectionReason(this.lastError, this.timeoutMs);
    const message = why ? `${reason} (${why}); reconnecting` : reason;
    return new RedisUnavailableError(message, {
      cause: error,
      internalMessage: `Redis: ${(error as Error).message}`,
    });
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
