import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointMessage } from './sqlite-checkpointer.ts';

// Runs in a thread of its own (sqlite-checkpointer.ts): copies committed WAL pages back into
// the database file, fsync included, so that no request waits on it.

const { path, intervalMs, restartPages } = workerData as {
  path: string;
  intervalMs: number;
  restartPages: number;
};
const db = new DatabaseSync(path);
// Never wait for a lock: a checkpoint that meets one simply runs at the next tick.
db.exec('PRAGMA busy_timeout = 0');
const checkpoint = (mode: 'PASSIVE' | 'RESTART') =>
  db.prepare(`PRAGMA wal_checkpoint(${mode})`).get() as { busy: number; log: number };
const post = (message: CheckpointMessage) => parentPort?.postMessage(message);
let asked = false;

const timer = setInterval(() => {
  if (asked) return;
  try {
    // PASSIVE copies what no reader still needs and takes no lock a writer waits for. It cannot
    // shorten the WAL, though: that restarts only when a write begins with every page copied,
    // and under steady load the store's connection commits again before a checkpoint catches
    // up. Past `restartPages`, the store holds its writes back for one RESTART.
    const { log } = checkpoint('PASSIVE');
    if (log >= restartPages) {
      asked = true;
      post({ kind: 'hold-writes' });
    }
  } catch {
    // Busy or interrupted: the next tick tries again, and the writer's own fallback bounds the WAL.
  }
}, intervalMs);

parentPort?.on('message', (message: CheckpointMessage) => {
  if (message.kind === 'writes-held') {
    let result = { busy: 1, log: -1 };
    try {
      // The store's own writes wait; another process's (a CLI, a second worker) may still hold
      // the write lock for a moment, and a restart that finds readers behind waits for them.
      db.exec('PRAGMA busy_timeout = 20');
      result = checkpoint('RESTART');
    } catch {
      // Busy: writes resume and the WAL stays as it is until the next try.
    } finally {
      db.exec('PRAGMA busy_timeout = 0');
      asked = false;
      post({ kind: 'restarted', done: result.busy === 0, pages: result.log });
    }
    return;
  }
  if (message.kind !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
