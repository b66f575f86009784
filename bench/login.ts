import { type ChildProcess, spawn } from 'node:child_process';
import { argon2, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../src/sdk/sign-token.ts';
import { KeyAdmin } from '../src/service/key-admin.ts';
import { PasswordHasher } from '../src/service/password-hasher.ts';
import { UserAdmin } from '../src/service/users.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { printTable, type Row } from './harness.ts';
import { benchPort } from './http/servers.ts';

const AUD = 'api.happypathology.com';
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
const PASSWORD_HASH = createHash('sha256').update('bench password').digest('hex');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * One HTTP request on a kept-alive connection; resolves with the latency in ms. `from` picks the
 * client address (any of 127.0.0.0/8), so that the login throttle sees a new address.
 */
function timed(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
  from?: string,
): Promise<{ ms: number; status: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const options = { host: '127.0.0.1', port, method, path, headers, agent: keepAlive };
    const req = request(from === undefined ? options : { ...options, localAddress: from }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, status: res.statusCode ?? 0 }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

import { Agent } from 'node:http';

const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

async function bareArgon2(): Promise<number> {
  const start = process.hrtime.bigint();
  await new Promise((resolve, reject) =>
    argon2(
      'argon2id',
      {
        message: PASSWORD_HASH,
        nonce: randomBytes(16),
        parallelism: 1,
        tagLength: 32,
        memory: 19456,
        passes: 2,
      },
      (e, k) => (e ? reject(e) : resolve(k)),
    ),
  );
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function setup(dir: string) {
  const store = new SqliteStore(join(dir, 'bench.db'));
  const clock = () => Math.floor(Date.now() / 1000);
  const keys = new KeyAdmin(store, clock);
  const org = await keys.createOrg('Bench');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = await keys.registerKey({
    orgId: org.id,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    grantedByAdmin: true,
  });
  await new UserAdmin({ store, hasher: new PasswordHasher(), clock, keys }).create({
    orgId: org.id,
    email: 'bench@example.com',
    passHash: PASSWORD_HASH,
  });
  await store.close();
  return signToken({ privateKey, orgId: org.id, kid: key.key_id, sub: 'bench', aud: AUD, role: 'user' });
}

async function startServer(dir: string, port: number): Promise<ChildProcess> {
  const server = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], {
    env: {
      ...process.env,
      KEYGATE_DATABASE: join(dir, 'bench.db'),
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_LOGIN_RATE_LIMIT: '100000',
    },
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await timed(port, 'GET', '/healthz', {})).status === 200) return server;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('server did not start');
}

async function whoamiLatencies(port: number, token: string, durationMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const { ms, status } = await timed(port, 'GET', '/v1/whoami', { authorization: token });
    if (status !== 200) throw new Error(`whoami answered ${status}`);
    latencies.push(ms);
  }
  return latencies;
}

/** whoami latencies while a login flood runs in its own process (so its answers never queue in front of ours). */
async function underFlood(port: number, token: string, mode: 'honour' | 'ignore') {
  const flood = spawn(
    process.execPath,
    [new URL('./login-flood.ts', import.meta.url).pathname, String(port), '32', mode],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let report = '';
  flood.stdout?.on('data', (chunk: Buffer) => {
    report += chunk.toString();
  });
  await new Promise((r) => setTimeout(r, 500));
  const latencies = await whoamiLatencies(port, token, 3000);
  flood.kill('SIGTERM');
  await new Promise((r) => flood.once('exit', r));
  const counts = JSON.parse(report || '{}') as Record<string, number>;
  const shed = Object.entries(counts)
    .map(([status, n]) => `${n}x${status}`)
    .join(', ');
  return { latencies, shed };
}

export async function benchLogin(): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'));
  const port = benchPort();
  const token = await setup(dir);
  const server = await startServer(dir, port);
  try {
    const body = JSON.stringify({ user: 'bench@example.com', pass_hash: PASSWORD_HASH });
    const headers = { 'content-type': 'application/json' };
    const logins: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 3; i++) await timed(port, 'POST', '/auth/login', headers, body);
    for (let i = 0; i < 40; i++) {
      bare.push(await bareArgon2());
      const { ms, status } = await timed(port, 'POST', '/auth/login', headers, body);
      if (status !== 202) throw new Error(`login answered ${status}`);
      logins.push(ms);
    }
    // Enumeration: an unknown user must cost as much to refuse as a wrong password. Each attempt
    // comes from its own address, as the throttle would otherwise refuse all but 5 unhashed.
    const unknownUser: number[] = [];
    const wrongPassword: number[] = [];
    const throttled: number[] = [];
    const unknownBody = JSON.stringify({ user: 'nobody@example.com', pass_hash: PASSWORD_HASH });
    const wrongBody = JSON.stringify({ user: 'bench@example.com', pass_hash: 'e'.repeat(64) });
    for (let i = 0; i < 30; i++) {
      const from = `127.0.2.${i + 1}`;
      unknownUser.push((await timed(port, 'POST', '/auth/login', headers, unknownBody, from)).ms);
      wrongPassword.push((await timed(port, 'POST', '/auth/login', headers, wrongBody, from)).ms);
    }
    // One address past its 5 free attempts: refused by the throttle, before any hashing.
    for (let i = 0; i < 35; i++) {
      const { ms, status } = await timed(port, 'POST', '/auth/login', headers, wrongBody, '127.0.3.1');
      if (i >= 5) throttled.push(ms);
      if (status !== 401) throw new Error(`a wrong login answered ${status}`);
    }
    const quiet = await whoamiLatencies(port, token, 3000);
    const honour = await underFlood(port, token, 'honour');
    const ignore = await underFlood(port, token, 'ignore');
    const p = (values: number[], at: number) => percentile(values, at);
    const row = (
      label: string,
      values: number[],
      at: number,
      base: number[],
      baseLabel: string,
      target?: number,
    ): Row => ({
      case: label,
      value: `${p(values, at).toFixed(2)} ms`,
      baseline: `${baseLabel} ${p(base, at).toFixed(2)} ms`,
      ratio: p(values, at) / p(base, at),
      ...(target !== undefined && { target }),
    });
    const rows: Row[] = [
      row('login p50 (HTTP, argon2id m=19MiB t=2 p=1)', logins, 50, bare, 'bare argon2id p50'),
      row('login p99', logins, 99, bare, 'bare argon2id p99'),
      row(
        'unknown-user login p50 (enumeration timing)',
        unknownUser,
        50,
        wrongPassword,
        'wrong-password login p50',
      ),
      row(
        'attempt refused by the login throttle p50 (no hash)',
        throttled,
        50,
        wrongPassword,
        'wrong-password login p50',
      ),
      row(
        `whoami p99, 32-client login flood honouring Retry-After (${honour.shed})`,
        honour.latencies,
        99,
        quiet,
        'whoami p99 quiet',
      ),
      row('whoami p50, same flood', honour.latencies, 50, quiet, 'whoami p50 quiet'),
      row(
        `whoami p99, 32 clients ignoring Retry-After (${ignore.shed})`,
        ignore.latencies,
        99,
        quiet,
        'whoami p99 quiet',
      ),
    ];
    // Lower latency is better here: the target is a ceiling, so it is checked apart from the table.
    const ok = printTable(
      'Login, and token verification during a login flood (server in its own process)',
      rows,
    );
    const floodRatio = p(honour.latencies, 99) / p(quiet, 99);
    process.stdout.write(
      `whoami p99 under the login flood: ${floodRatio.toFixed(2)}x quiet (target <= 2x): ${floodRatio <= 2 ? 'ok' : 'MISSED'}\n\n`,
    );
    const enumeration = p(unknownUser, 50) / p(wrongPassword, 50);
    const sameTime = enumeration >= 0.8 && enumeration <= 1.25;
    process.stdout.write(
      `unknown user vs wrong password, p50: ${enumeration.toFixed(2)}x (target 0.8-1.25x): ${sameTime ? 'ok' : 'MISSED'}\n\n`,
    );
    return ok && floodRatio <= 2 && sameTime;
  } finally {
    server.kill('SIGTERM');
    keepAlive.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
