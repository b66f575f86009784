import { StoreUnavailableError } from './store.ts';

/** The first pause after finding the database locked; it doubles up to the longest. */
const FIRST_PROBE_MS = 1;
const LONGEST_PROBE_MS = 50;

/**
 * Waits for another connection's lock (the CLI, a sqlite3 shell, another worker) with timers,
 * never by blocking the thread: node:sqlite is synchronous, so SQLite's own busy wait would hold
 * the event loop, and every request with it, for as long as the other connection holds the lock.
 *
 * Once a statement finds the database locked, one probe (a write transaction opened and rolled
 * back) tries again after 1, 2, 4... up to 50 ms, and every write waits for that probe instead of
 * trying on its own: each try that finds the lock taken costs the short busy timeout, and a
 * thousand waiting requests each trying would hold the loop as surely as one long wait. Each
 * caller gives up after `budgetMs` with StoreUnavailableError.
 */
export class LockWait {
  private readonly budgetMs: number;
  private readonly probe: () => void;
  /** Store calls waiting for the lock: each leaves within `budgetMs`, so a stalled store sheds them. */
  private readonly waiters = new Set<() => void>();
  private probeTimer: NodeJS.Timeout | undefined;
  /** Set while this process keeps its own writes back (hold()): they wait as for another's lock. */
  private holds = 0;

  /** `probe` throws a busy StoreUnavailableError while the database is locked. */
  constructor(budgetMs: number, probe: () => void) {
    this.budgetMs = budgetMs;
    this.probe = probe;
  }

  /**
   * Runs `attempt` (synchronous, atomic: one statement or a whole transaction) until it gets
   * past the lock. A read tries even while writes wait: in WAL mode readers never need the
   * write lock, so reads keep being answered while another process writes.
   */
  async run<T>(attempt: () => T, kind: 'read' | 'write'): Promise<T> {
    const deadline = performance.now() + this.budgetMs;
    let busy: StoreUnavailableError | undefined;
    for (;;) {
      if (kind === 'read' || (this.probeTimer === undefined && this.holds === 0)) {
        try {
          return attempt();
        } catch (error) {
          if (!isBusy(error)) throw error;
          busy = error;
          this.startProbing();
        }
      }
      if (!(await this.untilFree(deadline))) {
        throw new StoreUnavailableError(
          `The SQLite store failed: the database stayed locked by another connection for ${this.budgetMs} ms`,
          { cause: busy?.cause },
        );
      }
    }
  }

  /**
   * Keeps this connection's writes back until the returned release is called (once is enough;
   * more calls do nothing): they wait with timers, as for another connection's lock, within the
   * same budget. Reads go on. What the store's checkpoint thread asks for while it restarts the WAL.
   */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      if (this.holds === 0 && this.probeTimer === undefined) this.wakeAll();
    };
  }

  /** Wakes every waiter, to find the store closed. */
  close(): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.wakeAll();
  }

  /** Resolves true when the probe finds the database free, false at the deadline. */
  private untilFree(deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(
        () => {
          this.waiters.delete(wake);
          resolve(false);
        },
        Math.max(0, deadline - performance.now()),
      );
      this.waiters.add(wake);
    });
  }

  private startProbing(): void {
    if (this.probeTimer !== undefined) return;
    let delay = FIRST_PROBE_MS;
    const tick = () => {
      // Nobody waits any more: the next statement finds out for itself.
      if (this.waiters.size === 0) {
        this.probeTimer = undefined;
        return;
      }
      try {
        this.probe();
      } catch (error) {
        if (isBusy(error)) {
          delay = Math.min(delay * 2, LONGEST_PROBE_MS);
          // Jitter, so that several processes waiting for one lock do not probe in step.
          this.probeTimer = setTimeout(tick, delay * (0.75 + Math.random() / 2));
          return;
        }
        // Any other failure (the store closed) is for each waiter's own attempt to report.
      }
      this.probeTimer = undefined;
      this.wakeAll();
    };
    this.probeTimer = setTimeout(tick, delay);
  }

  private wakeAll(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}

/** SQLITE_BUSY and its extended codes: another connection holds a lock this statement needs. */
export function isBusy(error: unknown): error is StoreUnavailableError {
  if (!(error instanceof StoreUnavailableError)) return false;
  const { errcode } = (error.cause ?? {}) as { errcode?: unknown };
  return typeof errcode === 'number' && (errcode & 0xff) === 5;
}
