import type { Store } from '../store/store.ts';
import { KeyUseTally } from './key-use-tally.ts';

/**
 * The key directory's usage tally, which also writes itself to the store. Counting stays the
 * tally's own methods, inherited rather than wrapped, so a use on the request path costs no
 * call more than the tally does.
 */
export class KeyUsageRecorder extends KeyUseTally {
  private readonly store: Store;

  constructor(store: Store) {
    super();
    this.store = store;
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
