/** A Map that holds at most `maxEntries`: when full, the oldest insertion goes first. */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** Returns the value evicted to make room for `key`, if one was. */
  set(key: K, value: V): V | undefined {
    let evicted: V | undefined;
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries && this.entries.size > 0) {
      const [oldest, held] = this.entries.entries().next().value as [K, V];
      this.entries.delete(oldest);
      evicted = held;
    }
    this.entries.set(key, value);
    return evicted;
  }

  /** Returns the value removed, if `key` was held. */
  delete(key: K): V | undefined {
    const held = this.entries.get(key);
    this.entries.delete(key);
    return held;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
