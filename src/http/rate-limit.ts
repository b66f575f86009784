/** A per-address limit that several routes apply, each route counting on its own. */
export interface AddressRateLimit {
  /** Requests per client address per minute (KEYGATE_LOGIN_RATE_LIMIT). */
  max: number;
  /** Client addresses counted at once, per route (KEYGATE_RATE_LIMIT_ENTRIES). */
  entries: number;
}

/**
 * A route's `config` for @fastify/rate-limit. Each limited route gets its own in-memory LRU of
 * addresses, sized by the route's `cache`: the plugin's own `cache` option sizes only a store no
 * route here uses, so the bound must be given route by route. Past it the least recently seen
 * address is forgotten and starts a new window; the login throttle in the store, which counts
 * per account and per address, does not forget.
 */
export function perAddressPerMinute(limit: AddressRateLimit) {
  return { rateLimit: { max: limit.max, timeWindow: 60_000, cache: limit.entries } };
}
