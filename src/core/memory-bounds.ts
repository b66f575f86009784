/**
 * How many entries each in-memory structure that traffic can grow may hold. Without a bound, a
 * flood of distinct valid tokens, made-up kids or client addresses grows the heap until the
 * process dies. Every one of them is a cache: evicting an entry costs work (a verification, a
 * store read, a write), never a different answer. Eviction takes the oldest entry first.
 */
export interface MemoryBounds {
  /**
   * Verified tokens (KEYGATE_TOKEN_CACHE_ENTRIES), and as many session tokens whose signature
   * verified; an evicted token is verified again when it returns.
   */
  tokenCacheEntries: number;
  /** Parsed keys by kid (KEYGATE_KEY_CACHE_ENTRIES); an evicted key is read from the store again. */
  keyCacheEntries: number;
  /**
   * Kids the store did not know, answered from memory for a second (KEYGATE_UNKNOWN_KID_ENTRIES);
   * an evicted one is asked of the store again, within the miss budget.
   */
  unknownKidEntries: number;
  /**
   * Sessions whose last-seen time this process wrote lately (KEYGATE_SESSION_TOUCH_ENTRIES); an
   * evicted one may have its last-seen time written once more than needed.
   */
  sessionTouchEntries: number;
  /**
   * Client addresses the in-memory rate limiter counts, for each rate-limited route
   * (KEYGATE_RATE_LIMIT_ENTRIES); the least recently seen goes first and starts a new window.
   */
  rateLimitEntries: number;
  /**
   * The embedded store's recent replay-ledger bindings, indexed in memory rather than on disk
   * (KEYGATE_RECENT_JTI_ENTRIES, about 64 bytes each); past it the oldest move to the index on
   * disk, where each binding costs about twice as much to write.
   */
  recentJtiEntries: number;
}

export const DEFAULT_MEMORY_BOUNDS: MemoryBounds = {
  tokenCacheEntries: 50_000,
  keyCacheEntries: 10_000,
  // The miss budget (50 store reads a second) already keeps live entries to about two seconds' worth.
  unknownKidEntries: 1_000,
  // Only sessions used within the last minute need one: an older entry decides as the session's
  // own last-seen time does.
  sessionTouchEntries: 100_000,
  // @fastify/rate-limit's own default.
  rateLimitEntries: 5_000,
  // 16 MB at most: four minutes of fresh tokens at a thousand a second.
  recentJtiEntries: 250_000,
};
