import { spawn } from 'node:child_process';

/**
 * Runs `script`, an ES module that writes a line to stdout for each write the store has
 * acknowledged, in a process of its own, and kills it with SIGKILL once `count` lines have come:
 * in the middle of writing, as a crash or kill -9 would. Resolves, once the process has exited,
 * with every line it wrote.
 */
export async function linesBeforeKill(script: string, count: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines: string[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const complete = buffer.split('\n');
    buffer = complete.pop() ?? '';
    lines.push(...complete);
    if (lines.length >= count) child.kill('SIGKILL');
  });
  await exited;
  return lines;
}
