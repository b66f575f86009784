import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { cpuMs } from '../../bench/http/servers.ts';

/** A process whose `busy` thread spins for 400 ms while the other waits; its CPU read once the spin is done. */
async function cpuAfterSpin(
  busy: 'main thread' | 'worker thread',
): Promise<{ process: number; loop: number }> {
  const spin = 'const t = Date.now(); while (Date.now() - t < 400);';
  const script =
    busy === 'main thread'
      ? `${spin} console.log('done'); setInterval(() => {}, 1000);`
      : `const { Worker } = require('node:worker_threads');
         new Worker(${JSON.stringify(spin)}, { eval: true }).on('exit', () => console.log('done'));
         setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await once(child.stdout, 'data');
    const pid = child.pid as number;
    return { process: cpuMs(pid), loop: cpuMs(pid, 'main thread') };
  } finally {
    child.kill();
  }
}

test("the event loop's CPU is its main thread's alone; the process's counts every thread", async () => {
  const worker = await cpuAfterSpin('worker thread');
  assert.ok(worker.process >= 300, `the process spent ${worker.process} ms`);
  assert.ok(
    worker.process - worker.loop >= 300,
    `the loop read ${worker.loop} of the process's ${worker.process} ms`,
  );
  const main = await cpuAfterSpin('main thread');
  assert.ok(main.loop >= 300, `the loop spent ${main.loop} ms`);
  assert.ok(main.loop <= main.process, `the loop read ${main.loop} of the process's ${main.process} ms`);
});
