import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

// Runs in a thread of its own (sqlite-checkpointer.ts): copies committed WAL pages back into
// the database file, fsync included, so that no request waits on it.

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new DatabaseSync(path);
// Never wait for a lock: a checkpoint that meets one simply runs at the next tick.
db.exec('PRAGMA busy_timeout = 0');

const timer = setInterval(() => {
  try {
    // PASSIVE copies what no reader still needs and takes no lock a writer waits for.
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or interrupted: the next tick tries again, and the writer's own fallback bounds the WAL.
  }
}, intervalMs);

parentPort?.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
