import { type ChildProcess, spawn } from 'node:child_process';
import type { GeneratorAnswer, GeneratorJob } from './generator-process.ts';
import type { Shot } from './load.ts';

const GENERATOR = new URL('./generator-process.ts', import.meta.url).pathname;

let generator: ChildProcess | undefined;

/** Runs one load run in the generator process (generator-process.ts), started on first use. */
export function inChild(job: GeneratorJob): Promise<Shot> {
  generator ??= spawn(process.execPath, [GENERATOR], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const child = generator;
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`the load generator exited with ${code}`));
    child.once('exit', exited);
    child.once('message', (answer: GeneratorAnswer) => {
      child.off('exit', exited);
      if (answer.ok) resolve(answer.shot);
      else reject(new Error(answer.error));
    });
    child.send(job);
  });
}

/** Stops the generator process, if one was started. */
export async function stopGenerator(): Promise<void> {
  const child = generator;
  generator = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
