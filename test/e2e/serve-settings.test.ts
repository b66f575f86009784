import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, waitForHealth } from './server-process.ts';

// bin/serve-settings.js: `keygate serve` runs under a fixed glibc mmap threshold and a bounded
// young generation, whichever way it is started, as the one process it was started as (or,
// under --workers, with every worker under them too), and a SIGTERM stops all of it.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/keygate.js');
const { MMAP_THRESHOLD, MAX_SEMI_SPACE_MB, serveStart, threadPoolSize } = (await import(
  new URL('../../bin/serve-settings.js', import.meta.url).href
)) as {
  MMAP_THRESHOLD: string;
  MAX_SEMI_SPACE_MB: string;
  threadPoolSize(argv: string[], env: NodeJS.ProcessEnv, cores: number): string | undefined;
  serveStart(
    argv: string[],
    execArgv: string[],
    env: NodeJS.ProcessEnv,
    platform?: string,
  ): { args: string[]; env: NodeJS.ProcessEnv } | undefined;
};
const SEMI_SPACE = `--max-semi-space-size=${MAX_SEMI_SPACE_MB}`;

const dir = mkdtempSync(join(tmpdir(), 'keygate-serve-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const linux = process.platform === 'linux' ? false : 'glibc settings and /proc are Linux only';

/** The Node options and arguments a running process was started with, from /proc. */
function commandOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

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

/**
 * Stops the process group `child` leads (started with `detached: true`) after the test, whatever
 * it left running: a failing test must not leave servers behind.
 */
function killGroupAfter(child: ChildProcess): void {
  after(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // Nothing of the group is left: what the tests expect.
    }
  });
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

describe('how a command is started', () => {
  const env = { PATH: '/usr/bin', KEYGATE_PORT: '9000' };
  const argv = (...rest: string[]) => ['/usr/bin/node', '/opt/keygate/bin/keygate.js', ...rest];

  test('serve is started again with both settings, its own Node options and arguments kept', () => {
    assert.deepEqual(serveStart(argv('serve', '--port', '1'), ['--cpu-prof'], env, 'linux'), {
      args: [SEMI_SPACE, '--cpu-prof', '/opt/keygate/bin/keygate.js', 'serve', '--port', '1'],
      env: { ...env, MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD },
    });
    assert.deepEqual([MMAP_THRESHOLD, MAX_SEMI_SPACE_MB], ['131072', '16']);
  });

  test("only the setting not given yet is added: the operator's own values stand", () => {
    const threshold = { ...env, MALLOC_MMAP_THRESHOLD_: '65536' };
    assert.deepEqual(serveStart(argv('serve'), [], threshold, 'linux'), {
      args: [SEMI_SPACE, '/opt/keygate/bin/keygate.js', 'serve'],
      env: threshold,
    });
    const tunables = { ...env, GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' };
    assert.deepEqual(serveStart(argv('serve'), [], tunables, 'linux')?.env, tunables);
    assert.deepEqual(serveStart(argv('serve'), ['--max-semi-space-size=64'], env, 'linux'), {
      args: ['--max-semi-space-size=64', '/opt/keygate/bin/keygate.js', 'serve'],
      env: { ...env, MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD },
    });
    const options = { ...env, NODE_OPTIONS: '--max_semi_space_size=8' };
    assert.deepEqual(serveStart(argv('serve'), [], options, 'linux')?.args, [
      '/opt/keygate/bin/keygate.js',
      'serve',
    ]);
  });

  test('nothing changes for other commands, other systems, or a server started under both', () => {
    const both = { ...env, MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD };
    for (const [args, execArgv, extra, platform] of [
      [argv('org', 'list'), [], env, 'linux'],
      [argv('--help'), [], env, 'linux'],
      [argv(), [], env, 'linux'],
      [argv('key', 'serve'), [], env, 'linux'],
      [argv('serve'), [], env, 'darwin'],
      [argv('serve'), [SEMI_SPACE], both, 'linux'],
      [argv('serve'), [], { ...both, NODE_OPTIONS: `--inspect ${SEMI_SPACE}` }, 'linux'],
    ] as const)
      assert.equal(serveStart([...args], [...execArgv], extra, platform), undefined, args.join(' '));
  });
});

describe("libuv's thread pool", () => {
  const argv = (...rest: string[]) => ['/usr/bin/node', '/opt/keygate/bin/keygate.js', ...rest];

  test('serve gets a thread per password hash and as many for signatures: two per core but one', () => {
    assert.deepEqual(
      [1, 2, 4, 8].map((cores) => threadPoolSize(argv('serve'), {}, cores)),
      ['2', '2', '6', '14'],
    );
  });

  test("an operator's UV_THREADPOOL_SIZE stands, and other commands keep libuv's default", () => {
    assert.equal(threadPoolSize(argv('serve'), { UV_THREADPOOL_SIZE: '16' }, 2), undefined);
    assert.equal(threadPoolSize(argv('key', 'serve'), {}, 2), undefined);
    assert.equal(threadPoolSize(argv('login'), {}, 2), undefined);
  });
});

/** libuv's pool threads of a running process (they start together, on the pool's first job). */
function poolThreads(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).filter(
    (task) => readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim() === 'libuv-worker',
  ).length;
}

/** A login for a user nobody registered: refused after a password hash, on the thread pool. */
async function hashOnce(url: string): Promise<void> {
  const response = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'nobody@example.com', pass_hash: 'a'.repeat(64) }),
  });
  assert.equal(response.status, 401);
}

describe('node bin/keygate.js serve', { skip: linux }, () => {
  test("runs libuv's pool at its size, started directly or as deploy/ starts it, unless the operator set one", async () => {
    const expected = threadPoolSize(['node', BIN, 'serve'], {}, availableParallelism());
    const deployed = { MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD, NODE_OPTIONS: SEMI_SPACE };
    for (const [name, extra, threads] of [
      ['pool', {}, Number(expected)],
      ['pool-deployed', deployed, Number(expected)],
      ['pool-own', { UV_THREADPOOL_SIZE: '3' }, 3],
    ] as const) {
      const { server, url, exited } = await serve(name, [], extra);
      try {
        await hashOnce(url);
        assert.equal(poolThreads(server.pid as number), threads, name);
      } finally {
        server.kill('SIGTERM');
      }
      assert.deepEqual(await exited, { code: 0, signal: null });
    }
  });

  test('is one process, under the fixed threshold, that SIGTERM stops cleanly', async () => {
    const { server, exited } = await serve('one');
    const pid = server.pid as number;
    assert.equal(environmentOf(pid).MALLOC_MMAP_THRESHOLD_, MMAP_THRESHOLD);
    assert.deepEqual(commandOf(pid).slice(1, 3), [SEMI_SPACE, BIN]);
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

  test('serves without the settings when the system refuses to start it again', async () => {
    const refuse = `data:text/javascript,process.execve = () => { throw new Error('refused'); };`;
    const port = await freePort();
    const server = spawn(process.execPath, ['--import', refuse, BIN, 'serve', '--port', String(port)], {
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: undefined, KEYGATE_DATABASE: join(dir, 'refused.db') },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => server.once('exit', (code) => resolve(code)));
    await waitForHealth(`http://127.0.0.1:${port}`, server);
    assert.equal(environmentOf(server.pid as number).MALLOC_MMAP_THRESHOLD_, undefined);
    server.kill('SIGTERM');
    assert.equal(await exited, 0);
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
    for (const pid of [primary, ...workers]) {
      assert.equal(environmentOf(pid).MALLOC_MMAP_THRESHOLD_, MMAP_THRESHOLD, `process ${pid}`);
      assert.ok(commandOf(pid).includes(SEMI_SPACE), `process ${pid}`);
    }
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    server.kill('SIGTERM');
    await exited;
    for (const pid of workers) assert.ok(await gone(pid), `worker ${pid} still runs`);
  });
});

describe('serve --workers, a start that fails', () => {
  test('every worker failing to start stops the primary with the error and its code, and nothing is left running or said to listen', async () => {
    const port = await freePort();
    const server = spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--port', String(port)], {
      env: {
        ...process.env,
        KEYGATE_DATABASE: join(dir, 'failed-start.db'),
        KEYGATE_SECRET_FILE: join(dir, 'no-such-secret'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, workers included, so that a failing test can still stop them all.
      detached: true,
    });
    killGroupAfter(server);
    let stdout = '';
    let stderr = '';
    server.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    server.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await Promise.race([
      new Promise((resolve) => server.once('exit', resolve)),
      new Promise((resolve) => setTimeout(resolve, 20_000, 'still running after 20 s')),
    ]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /KEYGATE_SECRET_FILE=.*no-such-secret cannot be read/);
    assert.match(stderr, /worker \d+ could not start \(2\); stopping/);
    assert.doesNotMatch(stdout, /listening/);
    // The workers run the primary's own command line, port and all.
    const left = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry) && running(Number(entry)))
      .filter((pid) => {
        try {
          return commandOf(Number(pid)).join(' ').includes(`serve --workers 2 --port ${port}`);
        } catch {
          return false; // gone while read
        }
      });
    assert.deepEqual(left, []);
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
    killGroupAfter(npm);
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    npm.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitForHealth(`http://127.0.0.1:${port}`, npm);
    // Fastify's own log line names the process that listens. The logger writes it asynchronously,
    // so it may reach the pipe after the first /healthz answer: wait for it a moment.
    const listening = /"pid":(\d+)[^\n]*Server listening/;
    for (let waited = 0; !listening.test(output) && waited < 5000; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const pid = Number(listening.exec(output)?.[1]);
    assert.ok(pid > 0, output);
    assert.equal(environmentOf(pid).MALLOC_MMAP_THRESHOLD_, MMAP_THRESHOLD);
    assert.ok(commandOf(pid).includes(SEMI_SPACE));
    npm.kill('SIGTERM');
    await exited;
    assert.ok(await gone(pid), 'the server outlived npm');
  });
});
