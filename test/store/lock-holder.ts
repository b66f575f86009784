import { spawn } from 'node:child_process';

/** A lock on a SQLite file held by another process, as the CLI or a sqlite3 shell would hold it. */
export interface HeldLock {
  /** Resolves with the time (Date.now()) at which the other process committed and let go. */
  released: Promise<number>;
}

/**
 * Starts a process that opens `path`, takes `BEGIN EXCLUSIVE` and holds it for `ms`; resolves
 * once the lock is held.
 */
export async function holdLock(path: string, ms: number): Promise<HeldLock> {
  const script = `
    const { DatabaseSync } = require('node:sqlite');
    const db = new DatabaseSync(${JSON.stringify(path)});
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    setTimeout(() => {
      db.exec('COMMIT');
      db.close();
      process.stdout.write('released ' + Date.now() + '\\n');
    }, ${ms});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let onLocked: () => void = () => {};
  let onReleased: (at: number) => void = () => {};
  const locked = new Promise<void>((resolve) => {
    onLocked = resolve;
  });
  const released = new Promise<number>((resolve, reject) => {
    onReleased = resolve;
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code} before releasing`)));
  });
  // Handled here so that a test that never awaits the release cannot fail on it afterwards.
  released.catch(() => {});
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('locked\n')) onLocked();
    const match = /released (\d+)\n/.exec(output);
    if (match) onReleased(Number(match[1]));
  });
  await Promise.race([locked, released]);
  return { released };
}

/** Measures the longest time the event loop went without running a 10 ms interval timer. */
export function loopTicker(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  // A test that fails before stop() must not keep its process alive.
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

/**
 * Runs `attempt`, which returns the longest event-loop stall it measured, until one run stays
 * under `limitMs`, at most three times; returns every measurement. A machine shared with other
 * work preempts this process now and then, which no code can prevent; a stall that the code
 * under test causes shows in every run.
 */
export async function stallsUnder(limitMs: number, attempt: () => Promise<number>): Promise<number[]> {
  const stalls: number[] = [];
  do stalls.push(await attempt());
  while ((stalls.at(-1) as number) >= limitMs && stalls.length < 3);
  return stalls;
}

export function describeStalls(stalls: number[]): string {
  return `longest event-loop stall per run: ${stalls.map((ms) => `${ms.toFixed(1)} ms`).join(', ')}`;
}
