/**
 * Kids the store did not know, each answered from memory for `ttlMs`, at most `maxEntries` at
 * once (KEYGATE_UNKNOWN_KID_ENTRIES), the oldest forgotten first: one forgotten is asked of the
 * store again, within the key directory's budget.
 */
export class UnknownKids {
  /** Each kid with the time (nowMs) until which its answer stands. */
  private readonly until = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly nowMs: () => number;

  constructor(ttlMs: number, maxEntries: number, nowMs: () => number) {
    this.ttlMs = ttlMs;
    this.maxEntries = maxEntries;
    this.nowMs = nowMs;
  }

  has(kid: string): boolean {
    const until = this.until.get(kid);
    if (until === undefined) return false;
    if (this.nowMs() < until) return true;
    this.until.delete(kid);
    return false;
  }

  remember(kid: string): void {
    this.until.delete(kid);
    if (this.until.size >= this.maxEntries) this.until.delete(this.until.keys().next().value as string);
    this.until.set(kid, this.nowMs() + this.ttlMs);
  }

  forget(kid: string): void {
    this.until.delete(kid);
  }

  get size(): number {
    return this.until.size;
  }
}
