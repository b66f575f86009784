import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the event loop. Left to SQLite, the commit that pushes the WAL past 1,000
 * pages copies them into the database file and fsyncs it, inside a request: measured here, that
 * was half the cost of a commit of the replay ledger. Instead a worker thread with its own
 * connection checkpoints every `intervalMs`, and the store's connection keeps a far larger
 * automatic threshold only as a bound in case this thread cannot keep up.
 *
 * The thread starts with the first write of the store's connection that changed a row: until
 * then the WAL holds nothing of this process to copy back, and a server nobody writes to does
 * without it (a worker thread is a JavaScript engine of its own: 13 MB of the idle server).
 */
export class Checkpointer {
  private readonly path: string;
  private readonly intervalMs: number;
  private worker: Worker | undefined;
  private changes: StatementSync | undefined;

  constructor(path: string, intervalMs = 200) {
    this.path = path;
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
    this.worker = new Worker(new URL('./sqlite-checkpoint-worker.ts', import.meta.url), {
      workerData: { path: this.path, intervalMs: this.intervalMs },
    });
    // A checkpointer that fails leaves the bound in force; it never takes the process down.
    this.worker.on('error', () => {});
    this.worker.unref();
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('stop');
    const timeout = setTimeout(() => void worker.terminate(), 1000);
    await exited;
    clearTimeout(timeout);
  }
}
