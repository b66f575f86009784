import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, waitForHealth } from './server-process.ts';

// bin/malloc-env.js: `keygate serve` runs under a fixed glibc mmap threshold, whichever way it is
// started, as the one process it was started as (or, under --workers, with every worker under it
// too), and a SIGTERM stops all of it.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/keygate.js');
const { MMAP_THRESHOLD, serveEnvironment } = (await import(
  new URL('../../bin/malloc-env.js', import.meta.url).href
)) as {
  MMAP_THRESHOLD: string;
  serveEnvironment(argv: string[], env: NodeJS.ProcessEnv, platform?: string): NodeJS.ProcessEnv | undefined;
};

const dir = mkdtempSync(join(tmpdir(), 'keygate-malloc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const linux = process.platform === 'linux' ? false : 'glibc settings and /proc are Linux only';

/** The environment a running process was started with, from /proc. */
function environmentOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(
    entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

/** The processes `pid` started that are still running. */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}

/** Whether `pid` still runs (an exited child not yet reaped by its parent counts as gone). */
function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return !running(pid);
}

interface Started {
  server: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function serve(name: string, args: string[] = [], extra: NodeJS.ProcessEnv = {}): Promise<Started> {
  const port = await freePort();
  const server = spawn(process.execPath, [BIN, 'serve', '--port', String(port), ...args], {
    env: {
      ...process.env,
      MALLOC_MMAP_THRESHOLD_: undefined,
      GLIBC_TUNABLES: undefined,
      ...extra,
      KEYGATE_DATABASE: join(dir, `${name}.db`),
      KEYGATE_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    server.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, server);
  return { server, url, exited };
}

describe('which environment a command runs under', () => {
  const env = { PATH: '/usr/bin', KEYGATE_PORT: '9000' };
  const argv = (...rest: string[]) => ['/usr/bin/node', '/opt/keygate/bin/keygate.js', ...rest];

  test('serve gets the fixed threshold added to its own environment', () => {
    assert.deepEqual(serveEnvironment(argv('serve', '--port', '1'), env, 'linux'), {
      ...env,
      MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD,
    });
    assert.equal(MMAP_THRESHOLD, '131072');
  });

  test('nothing changes for other commands, other systems, or a threshold already set', () => {
    for (const [args, extra, platform] of [
      [argv('org', 'list'), {}, 'linux'],
      [argv('--help'), {}, 'linux'],
      [argv(), {}, 'linux'],
      [argv('key', 'serve'), {}, 'linux'],
      [argv('serve'), {}, 'darwin'],
      [argv('serve'), { MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD }, 'linux'],
      [argv('serve'), { MALLOC_MMAP_THRESHOLD_: '65536' }, 'linux'],
      [argv('serve'), { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' }, 'linux'],
    ] as const)
      assert.equal(serveEnvironment([...args], { ...env, ...extra }, platform), undefined, args.join(' '));
  });
});

describe('node bin/keygate.js serve', { skip: linux }, () => {
  test('is one process, under the fixed threshold, that SIGTERM stops cleanly', async () => {
    const { server, exited } = await serve('one');
    const pid = server.pid as number;
    assert.equal(environmentOf(pid).MALLOC_MMAP_THRESHOLD_, MMAP_THRESHOLD);
    assert.deepEqual(childrenOf(pid), [], 'the server replaced the process that was started');
    server.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
  });

  test("an operator's own threshold stands", async () => {
    const { server, exited } = await serve('own', [], { MALLOC_MMAP_THRESHOLD_: '65536' });
    assert.equal(environmentOf(server.pid as number).MALLOC_MMAP_THRESHOLD_, '65536');
    server.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
  });

  test('--workers 2: every worker runs under it, and SIGTERM to the primary leaves no process behind', async () => {
    const { server, url, exited } = await serve('workers', ['--workers', '2']);
    const primary = server.pid as number;
    let workers: number[] = [];
    for (let i = 0; i < 100 && workers.length < 2; i++) {
      workers = childrenOf(primary);
      if (workers.length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(workers.length, 2);
    for (const pid of [primary, ...workers])
      assert.equal(environmentOf(pid).MALLOC_MMAP_THRESHOLD_, MMAP_THRESHOLD, `process ${pid}`);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    server.kill('SIGTERM');
    await exited;
    for (const pid of workers) assert.ok(await gone(pid), `worker ${pid} still runs`);
  });
});

describe('npm start', { skip: linux }, () => {
  test('serves under the fixed threshold, and SIGTERM to npm stops the server with it', async () => {
    const port = await freePort();
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        MALLOC_MMAP_THRESHOLD_: undefined,
        KEYGATE_PORT: String(port),
        KEYGATE_DATABASE: join(dir, 'npm.db'),
        KEYGATE_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that a failing test can still stop everything it started.
      detached: true,
    });
    after(() => {
      try {
        process.kill(-(npm.pid as number), 'SIGKILL');
      } catch {
        // Nothing of the group is left: what the test expects.
      }
    });
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    npm.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitForHealth(`http://127.0.0.1:${port}`, npm);
    // Fastify's own log line names the process that listens.
    const pid = Number(/"pid":(\d+)[^\n]*Server listening/.exec(output)?.[1]);
    assert.ok(pid > 0, output);
    assert.equal(environmentOf(pid).MALLOC_MMAP_THRESHOLD_, MMAP_THRESHOLD);
    npm.kill('SIGTERM');
    await exited;
    assert.ok(await gone(pid), 'the server outlived npm');
  });
});
