import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { AUD } from './fixture.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
/** `keygate` as this checkout runs it: bin/keygate.js on the TypeScript sources. */
export const SOURCES_MAIN = join(ROOT, 'bin/keygate.js');
const BUILD = join(ROOT, 'scripts/build-package.ts');
const REFERENCE = new URL('../reference/server.ts', import.meta.url).pathname;
const BARE_FASTIFY = new URL('../reference/bare-fastify.js', import.meta.url).pathname;
const SIGNATURE_ONLY = new URL('../reference/signature-only.ts', import.meta.url).pathname;

/**
 * A base port for a run's servers (it and the next few dozen): below Linux's ephemeral range
 * (32768 and up), where the load generator's own outgoing connections, tens of thousands of them
 * lingering in TIME_WAIT, would otherwise now and then hold the port a server is about to listen on.
 */
export function benchPort(): number {
  return 20000 + Math.floor(Math.random() * 12000);
}

export interface Server {
  name: string;
  url: string;
  pid: number;
  /** Resident memory now, in MB, from /proc. */
  rssMb(): number;
  /** CPU time the process has used so far, all threads, in ms. */
  cpuMs(): number;
  /** CPU time its event loop has used so far (each process's main thread), in ms. */
  loopCpuMs(): number;
  /** The last few KB the process wrote to stderr: what a round that met errors reports. */
  stderrTail(): string;
  stop(): Promise<void>;
}

/** Which `keygate` a server is started from (its bin/keygate.js), and on which database. */
export interface Launch {
  main: string;
  database: string;
}

/**
 * Builds Keygate as deploy/ and the npm package run it (bin/ and the bundled dist/ of
 * scripts/build-package.ts, with this checkout's node_modules for the packages loaded on first
 * use) into `dir`. Returns its bin/keygate.js.
 */
export function packagedKeygate(dir: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync(process.execPath, [BUILD, join(dir, 'dist')], { stdio: ['ignore', 'ignore', 'inherit'] });
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bin/keygate.js');
}

/** `keygate serve` as `launch` says, with every cap that would throttle a one-address load turned off. */
export function keygateCommand(
  { main, database }: Launch,
  port: number,
  extraArgs: readonly string[] = [],
  extraEnv: Readonly<Record<string, string>> = {},
): { args: string[]; env: NodeJS.ProcessEnv } {
  return {
    args: [main, 'serve', '--port', String(port), ...extraArgs],
    env: {
      ...process.env,
      ...extraEnv,
      KEYGATE_DATABASE: database,
      KEYGATE_AUDIENCES: AUD,
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_MAX_CONNECTIONS_PER_ADDRESS: '0',
      KEYGATE_LOGIN_RATE_LIMIT: '100000',
    },
  };
}

export async function startKeygate(
  launch: Launch,
  port: number,
  extraArgs: readonly string[] = [],
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<Server> {
  const { args, env } = keygateCommand(launch, port, extraArgs, extraEnv);
  return started(
    `Keygate${extraArgs.length > 0 ? ` ${extraArgs.join(' ')}` : ''}`,
    spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] }),
    port,
  );
}

export async function startReference(keysFile: string, port: number): Promise<Server> {
  const child = spawn(process.execPath, [REFERENCE, String(port), keysFile, AUD], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return started('reference', child, port);
}

/**
 * bench/reference/signature-only.ts on the reference's keys: a token's signature checked, nothing
 * else; with a `ledger`, each token's jti also bound in Keygate's replay ledger, in its database,
 * and with `checks` every claim checked too and the answer in the spec's envelope (the spec floor).
 */
export async function startSignatureOnly(
  keysFile: string,
  port: number,
  ledger?: { db: string; checks?: boolean },
): Promise<Server> {
  const args = [SIGNATURE_ONLY, String(port), keysFile];
  if (ledger) args.push(ledger.db, ...(ledger.checks ? ['checks'] : []));
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...DEPLOYED_ENV },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const name = !ledger ? 'signature only' : ledger.checks ? 'the spec floor' : 'signature and ledger';
  return started(name, child, port);
}

/**
 * Fastify alone answering /healthz (bench/reference/bare-fastify.js), as deploy/ starts Keygate
 * and with a compile cache in `cacheDir`: the least a Fastify server takes here.
 */
function bareFastifyCommand(port: number, cacheDir: string): { args: string[]; env: NodeJS.ProcessEnv } {
  return {
    args: [BARE_FASTIFY, String(port)],
    env: { ...process.env, ...DEPLOYED_ENV, NODE_COMPILE_CACHE: cacheDir },
  };
}

export function startBareFastify(port: number, cacheDir: string): Promise<Server> {
  const { args, env } = bareFastifyCommand(port, cacheDir);
  return started(
    'bare Fastify',
    spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] }),
    port,
  );
}

export function bareFastifyReadyTimes(firstPort: number, count: number, cacheDir: string): Promise<number[]> {
  return startTimes((port) => bareFastifyCommand(port, cacheDir), firstPort, count);
}

async function started(name: string, child: ChildProcess, port: number): Promise<Server> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await firstAnswer(port, exited);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${name} did not start: ${(error as Error).message}\n${stderr}`);
  }
  const pid = child.pid as number;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    pid,
    rssMb: () => withChildren(pid).reduce((sum, each) => sum + rssMb(each), 0),
    cpuMs: () => withChildren(pid).reduce((sum, each) => sum + cpuMs(each), 0),
    loopCpuMs: () => withChildren(pid).reduce((sum, each) => sum + cpuMs(each, 'main thread'), 0),
    stderrTail: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Polls /healthz every 5 ms until it answers 200; resolves with the milliseconds from `since`.
 * Each poll opens its own connection, as the listener may not exist yet.
 */
export async function firstAnswer(
  port: number,
  exited: Promise<void>,
  since = performance.now(),
): Promise<number> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = since + 20_000;
  while (performance.now() < deadline) {
    if (gone) throw new Error('the process exited');
    if ((await status(port)) === 200) return performance.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('no answer from /healthz within 20 s');
}

function status(port: number): Promise<number> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', () => resolve(0));
  });
}

/**
 * Milliseconds from spawning `keygate serve` to its first /healthz answer, `count` times, with
 * `env` added to its environment.
 */
export function readyTimes(
  launch: Launch,
  firstPort: number,
  count: number,
  env: Readonly<Record<string, string>> = {},
): Promise<number[]> {
  return startTimes((port) => keygateCommand(launch, port, [], env), firstPort, count);
}

const { MAX_SEMI_SPACE_MB, MMAP_THRESHOLD } = (await import(
  new URL('../../bin/serve-settings.js', import.meta.url).href
)) as {
  MAX_SEMI_SPACE_MB: string;
  MMAP_THRESHOLD: string;
};

/**
 * The environment deploy/keygate.service and deploy/Dockerfile start `keygate serve` in: the
 * memory settings already given, so it starts once instead of replacing itself to apply them.
 */
export const DEPLOYED_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD,
  NODE_OPTIONS: `--max-semi-space-size=${MAX_SEMI_SPACE_MB}`,
};

/** The same for the reference server (bench/reference/server.ts), which answers /healthz too. */
export function referenceReadyTimes(keysFile: string, firstPort: number, count: number): Promise<number[]> {
  return startTimes(
    (port) => ({ args: [REFERENCE, String(port), keysFile, AUD], env: process.env }),
    firstPort,
    count,
  );
}

async function startTimes(
  command: (port: number) => { args: string[]; env: NodeJS.ProcessEnv },
  firstPort: number,
  count: number,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const { args, env } = command(firstPort + i);
    const since = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      times.push(await firstAnswer(firstPort + i, exited, since));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }
  return times;
}

export function rssMb(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line?.[1] ?? Number.NaN) / 1024;
}

/**
 * utime + stime from /proc/<pid>/stat, which counts in USER_HZ ticks (100 a second on Linux); of
 * its main thread alone (the event loop's, whose id is the process's) from its task's stat.
 */
export function cpuMs(pid: number, of?: 'main thread'): number {
  const fields = statFields(of ? `${pid}/task/${pid}` : pid);
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** `pid` and its child processes (the workers of `serve --workers N`), from /proc. */
function withChildren(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => {
      try {
        return Number(statFields(child)[1]) === pid;
      } catch {
        return false; // gone since the listing
      }
    });
  return [pid, ...children];
}

/** The fields of /proc/<pid>/stat after the parenthesised command name, which may hold spaces. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
