/**
 * A token bucket for the key directory's store reads of kids memory cannot answer: `perSecond`
 * reads a second, of which up to one second's worth at once.
 */
export class MissBudget {
  private readonly perSecond: number;
  private readonly nowMs: () => number;
  private tokens: number;
  private last: number;

  constructor(perSecond: number, nowMs: () => number) {
    this.perSecond = perSecond;
    this.nowMs = nowMs;
    this.tokens = perSecond;
    this.last = nowMs();
  }

  take(): boolean {
    const now = this.nowMs();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
