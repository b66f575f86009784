import type { Store } from '../store/store.ts';
import { KeyUseTally } from './key-use-tally.ts';

/** Usage is written every 10 s: one store write per flush, never one per request. */
const FLUSH_EVERY_MS = 10_000;

/**
 * The key directory's usage tally, which also writes itself to the store. Counting stays the
 * tally's own methods, inherited rather than wrapped, so a use on the request path costs no
 * call more than the tally does.
 */
export class KeyUsageRecorder extends KeyUseTally {
  private readonly store: Store;
  private timer: NodeJS.Timeout | undefined;

  constructor(store: Store) {
    super();
    this.store = store;
  }

  /** Flushes every `everyMs`; a flush the store refuses is tried again at the next. */
  start(everyMs = FLUSH_EVERY_MS): void {
    this.timer = setInterval(() => this.flush().catch(() => {}), everyMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left. */
  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.flush();
  }

  /**
   * Writes the uses counted since the last flush in one store write (Store.recordKeyUse). A
   * batch the store refuses is kept for the next flush.
   */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const batch = this.take();
    try {
      await this.store.recordKeyUse(batch);
    } catch (error) {
      this.putBack(batch);
      throw error;
    }
  }
}
