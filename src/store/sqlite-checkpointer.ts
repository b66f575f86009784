import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the event loop. Left to SQLite, the commit that pushes the WAL past 1,000
 * pages copies them into the database file and fsyncs it, inside a request: measured here, that
 * was half the cost of a commit of the replay ledger. Instead a worker thread with its own
 * connection checkpoints every `intervalMs`, and the store's connection keeps a far larger
 * automatic threshold only as a bound in case this thread cannot keep up.
 */
export class Checkpointer {
  private readonly worker: Worker;

  constructor(path: string, intervalMs = 200) {
    this.worker = new Worker(new URL('./sqlite-checkpoint-worker.ts', import.meta.url), {
      workerData: { path, intervalMs },
    });
    // A checkpointer that fails leaves the bound in force; it never takes the process down.
    this.worker.on('error', () => {});
    this.worker.unref();
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage('stop');
    const timeout = setTimeout(() => void this.worker.terminate(), 1000);
    await exited;
    clearTimeout(timeout);
  }
}
