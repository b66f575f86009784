import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Redis as the rate limiter needs it (the service's RedisLink): the client @fastify/rate-limit
 * counts in, the prefix of Keygate's keys, and what an error of the client means.
 */
export interface RateLimitRedis {
  readonly client: object;
  readonly prefix: string;
  /** The error as a 503 redis_unavailable when it means Redis cannot serve; otherwise as it is. */
  failure(error: unknown): unknown;
}

/** A per-address limit that several routes apply, each route counting on its own. */
export interface AddressRateLimit {
  /** Requests per client address per minute (KEYGATE_LOGIN_RATE_LIMIT). */
  max: number;
  /** Client addresses counted at once, per route (KEYGATE_RATE_LIMIT_ENTRIES). */
  entries: number;
  /**
   * Redis, when KEYGATE_REDIS_URL is set: every node counts in one place, so that an address
   * gets `max` a minute in all, whichever nodes a load balancer sends it to.
   */
  redis?: RateLimitRedis;
}

/**
 * A route's `config` for @fastify/rate-limit. Each limited route gets its own in-memory LRU of
 * addresses, sized by the route's `cache`: the plugin's own `cache` option sizes only a store no
 * route here uses, so the bound must be given route by route. Past it the least recently seen
 * address is forgotten and starts a new window; the login throttle in the store, which counts
 * per account and per address, does not forget. With Redis the counts are there instead, each
 * expiring with its window, and `cache` is not used.
 */
export function perAddressPerMinute(limit: AddressRateLimit) {
  return { rateLimit: { max: limit.max, timeWindow: 60_000, cache: limit.entries } };
}

/** The plugin's options for where it counts: Redis under Keygate's prefix, or (none) in memory. */
export function rateLimitCounters(limit: AddressRateLimit) {
  return limit.redis ? { redis: limit.redis.client, nameSpace: `${limit.redis.prefix}rate:` } : {};
}

type ErrorHandler = (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * The rate limiter's hook throws its Redis client's errors as they are; before the error handler
 * masks them as 500, an outage becomes 503 redis_unavailable (fail closed: no attempt is let
 * through uncounted, and the client is told to retry).
 */
export function withRedisFailures(redis: RateLimitRedis | undefined, handle: ErrorHandler): ErrorHandler {
  if (!redis) return handle;
  return (error, request, reply) => handle(redis.failure(error) as Error, request, reply);
}
