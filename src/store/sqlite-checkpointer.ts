import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';

/** The thread's script beside this module: `.ts` in the repository, `.js` in the npm package's dist/. */
const WORKER_SCRIPT = new URL(
  `./sqlite-checkpoint-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`,
  import.meta.url,
);

/** What the store and its checkpoint thread tell each other. */
export type CheckpointMessage =
  | { kind: 'hold-writes' }
  | { kind: 'writes-held' }
  | { kind: 'restarted'; done: boolean; pages: number }
  | { kind: 'stop' };

/**
 * WAL size, in pages, at which the thread asks for a RESTART. Measured at 3,500 and 7,000 ledger
 * bindings a second: the WAL then stays under about 4,400 pages (18 MB), each restart holds the
 * store's writes 3-8 ms, and the event loop never runs a checkpoint itself. Without it the WAL
 * grew to the fallback bound, whose checkpoint held the loop 7-17 ms (58-82 ms flat out).
 */
const RESTART_PAGES = 2000;
/** Writes never wait longer than this for a restart, whatever the thread does. */
const LONGEST_HOLD_MS = 100;

/**
 * WAL checkpoints off the event loop. Left to SQLite, the commit that pushes the WAL past 1,000
 * pages copies them into the database file and fsyncs it, inside a request: measured here, that
 * was half the cost of a commit of the replay ledger. Instead a worker thread with its own
 * connection checkpoints every `intervalMs`, and now and then, with this connection's writes
 * held back (`holdWrites`), restarts the WAL from its beginning so that it stays small. The
 * store's connection keeps a far larger automatic threshold only as a bound in case this thread
 * cannot keep up.
 *
 * The thread starts with the first write of the store's connection that changed a row: until
 * then the WAL holds nothing of this process to copy back, and a server nobody writes to does
 * without it (a worker thread is a JavaScript engine of its own: 13 MB of the idle server).
 */
export class Checkpointer {
  private readonly path: string;
  private readonly holdWrites: () => () => void;
  private readonly intervalMs: number;
  private worker: Worker | undefined;
  private changes: StatementSync | undefined;
  private release: (() => void) | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  /** WAL restarts so far, and the pages the WAL held before the latest: for tests. */
  readonly restarts = { count: 0, lastPages: 0 };

  /** `holdWrites` keeps the store's writes back until the function it returns is called. */
  constructor(path: string, holdWrites: () => () => void, intervalMs = 200) {
    this.path = path;
    this.holdWrites = holdWrites;
    this.intervalMs = intervalMs;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Called after each write of the store, with its connection. */
  afterWrite(db: DatabaseSync): void {
    if (this.worker) return;
    this.changes ??= db.prepare('SELECT total_changes() AS n');
    if (Number(this.changes.get()?.n) === 0) return;
    const worker = new Worker(WORKER_SCRIPT, {
      workerData: { path: this.path, intervalMs: this.intervalMs, restartPages: RESTART_PAGES },
    });
    // A checkpointer that fails leaves the bound in force; it never takes the process down.
    worker.on('error', () => this.resume());
    worker.on('message', (message: CheckpointMessage) => this.onMessage(worker, message));
    worker.unref();
    this.worker = worker;
  }

  private onMessage(worker: Worker, message: CheckpointMessage): void {
    if (message.kind === 'hold-writes') {
      // A message is handled between two turns of the event loop, never inside a write, so
      // nothing of this connection is under way once the hold is in place.
      this.release = this.holdWrites();
      this.releaseTimer = setTimeout(() => this.resume(), LONGEST_HOLD_MS);
      worker.postMessage({ kind: 'writes-held' } satisfies CheckpointMessage);
    } else if (message.kind === 'restarted') {
      if (message.done) {
        this.restarts.count++;
        this.restarts.lastPages = message.pages;
      }
      this.resume();
    }
  }

  private resume(): void {
    clearTimeout(this.releaseTimer);
    this.release?.();
    this.release = undefined;
  }

  async stop(): Promise<void> {
    this.resume();
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ kind: 'stop' } satisfies CheckpointMessage);
    const timeout = setTimeout(() => void worker.terminate(), 1000);
    await exited;
    clearTimeout(timeout);
  }
}
