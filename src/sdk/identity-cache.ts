/**
 * A bounded map from a key to a value that lapses at its own time. At most `maxEntries` live in
 * it; past that the oldest insertion goes first, so a flood of distinct tokens costs a fixed
 * amount of memory and simply evicts (a miss only means one more call to Keygate).
 */
export class ExpiringCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) {
      throw new TypeError(`cacheEntries must be a whole number of zero or more, not ${maxEntries}.`);
    }
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, if it has not lapsed at `now` (ms); a lapsed entry is removed. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until `expiresAt` (ms); nothing is kept for a time already past. */
  set(key: string, value: V, expiresAt: number, now: number): void {
    if (this.maxEntries === 0 || expiresAt <= now) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
