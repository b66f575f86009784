import type { KeyChange, Store } from '../store/store.ts';
import type { FeedWatch } from './feed-watch.ts';

/**
 * The key directory's reading of the store's key change feed: one read at a time, from the
 * revision held, shared by everyone who asks meanwhile. Each change found is handed to `apply`,
 * which changes the directory's memory; the revision moves past it only once it is applied, so a
 * batch that fails midway is read again from the first change not applied. `watch` is told how
 * every read went, so the directory knows when memory is stale.
 */
export class KeyFeedReader {
  /** The revision of the last change applied: the feed is read from here. */
  private revision = 0;
  private readonly store: Store;
  private readonly batch: number;
  private readonly watch: FeedWatch;
  private readonly apply: (change: KeyChange) => void | Promise<void>;
  private refreshing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    store: Store,
    batch: number,
    watch: FeedWatch,
    apply: (change: KeyChange) => void | Promise<void>,
  ) {
    this.store = store;
    this.batch = batch;
    this.watch = watch;
    this.apply = apply;
  }

  /** Reads the feed every `pollMs`. */
  poll(pollMs: number): void {
    this.timer = setInterval(() => {
      this.refresh().catch(() => {
        // The next poll tries again; past maxFeedLagMs the caches are refused until one succeeds.
      });
    }, pollMs);
    this.timer.unref();
  }

  /** Where the feed is read from once the directory has read every key id (KeyDirectory.start). */
  startFrom(revision: number): void {
    this.revision = revision;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the feed from the revision held, batch after batch, and applies every change. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const startedAt = this.watch.begin();
      try {
        for (;;) {
          const changes = await this.store.keyChangesSince(this.revision, this.batch);
          for (const change of changes) {
            await this.apply(change);
            this.revision = change.revision;
          }
          if (changes.length < this.batch) break;
        }
        this.watch.succeeded(startedAt);
      } catch (error) {
        this.watch.failed(error);
        throw error;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Reads the feed now; fails with keys_stale when it cannot be read, or a read has hung. */
  async catchUp(): Promise<void> {
    if (this.watch.hung) throw this.watch.refusal();
    try {
      await this.refresh();
      // A read that began before the bound was passed may not reach far enough: one more.
      if (this.watch.stale) await this.refresh();
    } catch {
      throw this.watch.refusal();
    }
  }

  /** Reads the feed now, after any read under way: that one may have begun before the change. */
  nudge(): void {
    const running = this.refreshing;
    (running ? running.catch(() => {}).then(() => this.refresh()) : this.refresh()).catch(() => {});
  }
}
