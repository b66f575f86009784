import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryBounds } from '../src/config.ts';
import { signToken } from '../src/sdk/sign-token.ts';
import { KeyAdmin } from '../src/service/key-admin.ts';
import { PasswordHasher } from '../src/service/password-hasher.ts';
import { UserAdmin } from '../src/service/users.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { benchPort, packagedKeygate, SOURCES_MAIN } from './http/servers.ts';
import { RssSampler, type RssWindow } from './rss-windows.ts';

// Mixed traffic against a spawned `keygate serve` for a while, every answer checked against what
// it must be. Run: npm run soak -- --minutes 10 (or --seconds 30); add --package to soak the npm
// package's bundled server, as deploy/ runs it, instead of this checkout's sources.

const AUD = 'api.happypathology.com';
// What operators run: bin/keygate.js, which starts the server under its settings (bin/serve-settings.js).
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD = 'a soak-test passphrase nobody guesses';

interface Answer {
  status: number;
  code: string | undefined;
  body: Record<string, unknown>;
}

export interface SoakReport {
  /** What ran: the npm package's bundled server or this checkout's sources. */
  server: string;
  seconds: number;
  requests: number;
  answers: Record<string, number>;
  serverErrors: number;
  wrong: string[];
  /** RSS in the window after warm-up and in the window before the end (RssSampler). */
  rssStart: RssWindow;
  rssEnd: RssWindow;
  /** Entries of the bounded in-memory structures (from /metrics) after warm-up and at the end. */
  cachesStart: Record<string, number>;
  cachesEnd: Record<string, number>;
  /** The heap V8 had reserved (nodejs_heap_size_total_bytes), in MB, at the same two moments. */
  heapStartMb: number;
  heapEndMb: number;
}

class Client {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32 });
  private readonly port: number;
  requests = 0;
  constructor(port: number) {
    this.port = port;
  }

  /** `from` is the client address (any of 127.0.0.0/8): each soak client logs in from its own. */
  call(method: string, path: string, token?: string, body?: unknown, from?: string): Promise<Answer> {
    this.requests++;
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const target = { host: '127.0.0.1', port: this.port, method, path, headers, agent: this.agent };
      const req = request(from === undefined ? target : { ...target, localAddress: from }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // A non-JSON answer is checked (and counted wrong) by its status and missing code.
          }
          const error = parsed.error as { code?: string } | undefined;
          resolve({ status: res.statusCode ?? 0, code: error?.code, body: parsed });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface World {
  orgId: string;
  orgKey: { privateKey: KeyObject; kid: string };
  users: { email: string; id: string }[];
  victim: string;
}

async function setup(database: string, users_: number): Promise<World> {
  const store = new SqliteStore(database);
  const clock = () => Math.floor(Date.now() / 1000);
  const keys = new KeyAdmin(store, clock);
  const org = await keys.createOrg('Soak');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = await keys.registerKey({
    orgId: org.id,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    grantedByAdmin: true,
  });
  const users = new UserAdmin({ store, hasher: new PasswordHasher(), clock, keys });
  const made = [];
  for (let i = 0; i < users_; i++) {
    const user = await users.create({
      orgId: org.id,
      email: `soak${i}@example.com`,
      passHash: sha256(PASSWORD),
    });
    made.push({ email: user.email, id: user.id });
  }
  // Wrong passwords go to an account of their own, so its throttle never locks out the others.
  await users.create({ orgId: org.id, email: 'victim@example.com', passHash: sha256(PASSWORD) });
  await store.close();
  return {
    orgId: org.id,
    orgKey: { privateKey, kid: key.key_id },
    users: made,
    victim: 'victim@example.com',
  };
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

/**
 * What the server's bounded structures hold, read off /metrics: RSS that grows while these fill
 * toward their bounds is the caches doing their work; RSS that grows with them full is a leak.
 * With them, the heap V8 has reserved: RSS that grows with it is the JavaScript heap's.
 */
async function serverReadings(port: number): Promise<{ caches: Record<string, number>; heapMb: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const caches: Record<string, number> = {};
  let heapMb = 0;
  for (const line of text.split('\n')) {
    const found = /^keygate_(token_cache_entries|key_directory_entries\{map="(\w+)"\}) (\d+)/.exec(line);
    if (found) caches[found[2] ? `directory ${found[2]}` : 'token cache'] = Number(found[3]);
    const session = /^keygate_session_memory_entries\{map="(\w+)"\} (\d+)/.exec(line);
    if (session) caches[`session ${session[1]}`] = Number(session[2]);
    const ledger = /^keygate_replay_ledger_memory_entries (\d+)/.exec(line);
    if (ledger) caches['ledger recent jtis'] = Number(ledger[1]);
    const heap = /^nodejs_heap_size_total_bytes (\d+)/.exec(line);
    if (heap) heapMb = Number(heap[1]) / 2 ** 20;
  }
  return { caches, heapMb };
}

/** One kind of traffic: what it sends, and whether each answer is the one it must be. */
type Check = (kind: string, answer: Answer, want: number, code?: string) => void;
/** One soak client: its own account, address and sessions, as a real client would have. */
interface Seat {
  user: World['users'][number];
  from: string;
  sessions: string[];
}
type Scenario = (client: Client, check: Check, seat: Seat) => Promise<void>;

function scenarios(world: World): [weight: number, name: string, run: Scenario][] {
  const { orgId, orgKey } = world;
  const orgToken = (claims: { sub?: string; kid?: string; key?: KeyObject } = {}) =>
    signToken({
      privateKey: claims.key ?? orgKey.privateKey,
      orgId,
      kid: claims.kid ?? orgKey.kid,
      sub: claims.sub ?? 'soak-client',
      aud: AUD,
      ttlSeconds: 600,
    });
  const warm = orgToken();
  const login = async (client: Client, check: Check, seat: Seat) => {
    const body = { user: seat.user.email, pass_hash: sha256(PASSWORD) };
    const answer = await client.call('POST', '/auth/login', undefined, body, seat.from);
    check('login', answer, 202);
    const token = (answer.body.results as { token?: { HY_APP_AUTH_v1?: string } } | undefined)?.token
      ?.HY_APP_AUTH_v1;
    return { user: seat.user, token: token ?? '' };
  };
  return [
    [
      30,
      'warm token',
      async (client, check) => check('warm', await client.call('GET', '/v1/whoami', warm), 200),
    ],
    [
      25,
      'fresh token',
      async (client, check) => check('fresh', await client.call('GET', '/v1/whoami', orgToken()), 200),
    ],
    [
      8,
      'invalid tokens',
      async (client, check) => {
        check('malformed', await client.call('GET', '/v1/whoami', 'not.a.token'), 401, 'token_malformed');
        const good = orgToken();
        const forged = `${good.slice(0, good.lastIndexOf('.') + 1)}${'A'.repeat(342)}`;
        check('bad signature', await client.call('GET', '/v1/whoami', forged), 401, 'signature_invalid');
        const unknown = orgToken({ kid: randomUUID() });
        check('unknown kid', await client.call('GET', '/v1/whoami', unknown), 401, 'kid_unknown');
      },
    ],
    [
      12,
      'session token',
      async (client, check, seat) => {
        if (seat.sessions.length < 2) {
          const { token } = await login(client, check, seat);
          if (token) seat.sessions.push(token);
          return;
        }
        const token = seat.sessions[Math.floor(Math.random() * seat.sessions.length)] as string;
        check('session', await client.call('GET', '/v1/whoami', token), 200);
      },
    ],
    [
      3,
      'wrong password',
      async (client, check, seat) => {
        const body = { user: world.victim, pass_hash: sha256('guess') };
        const answer = await client.call('POST', '/auth/login', undefined, body, seat.from);
        check('wrong password', answer, 401, 'invalid_credentials');
      },
    ],
    [
      2,
      'login, logout',
      async (client, check, seat) => {
        const { token } = await login(client, check, seat);
        check('logout', await client.call('POST', '/auth/logout', token), 200);
        check('after logout', await client.call('GET', '/v1/whoami', token), 401, 'session_revoked');
      },
    ],
    [
      3,
      'key life',
      async (client, check, seat) => {
        const { user, token: session } = await login(client, check, seat);
        const first = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const registered = await client.call('POST', '/auth/signing-keys', session, {
          public_key: first.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        });
        check('register', registered, 201);
        const kid = (registered.body.results as { key_id?: string } | undefined)?.key_id ?? '';
        const own = (key: KeyObject, id: string, sub = user.id) =>
          signToken({ privateKey: key, orgId, kid: id, sub, aud: AUD, ttlSeconds: 600 });
        check('new key at once', await client.call('GET', '/v1/whoami', own(first.privateKey, kid)), 200);
        check(
          'not its owner',
          await client.call('GET', '/v1/whoami', own(first.privateKey, kid, 'x')),
          401,
          'sub_not_permitted',
        );
        const second = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const rotated = await client.call('POST', `/auth/signing-keys/${kid}/rotate`, session, {
          public_key: second.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          grace_seconds: 0,
        });
        check('rotate', rotated, 201);
        const next = (rotated.body.results as { key?: { key_id?: string } } | undefined)?.key?.key_id ?? '';
        check(
          'rotated out',
          await client.call('GET', '/v1/whoami', own(first.privateKey, kid)),
          401,
          'key_revoked',
        );
        const cached = own(second.privateKey, next);
        // Its second use admits it to the token cache, so the revocation must reach a cached token.
        for (let use = 0; use < 2; use++)
          check('replacement', await client.call('GET', '/v1/whoami', cached), 200);
        check('revoke', await client.call('DELETE', `/auth/signing-keys/${next}`, session), 200);
        check('revoked, cached', await client.call('GET', '/v1/whoami', cached), 401, 'key_revoked');
        await client.call('POST', '/auth/logout', session);
      },
    ],
  ];
}

/**
 * Bounds small enough for the soak's traffic to fill within its warm-up, so that RSS that grows
 * after it is a leak, not a cache doing its work. With the defaults, a 10-minute soak on a fast
 * machine (627,766 requests, 14,025 keys registered and used at once) was still filling the key
 * cache (2,321 -> 10,000 entries) and the ledger's memory (11,754 -> 145,961 bindings) in its
 * measured windows, and RSS grew 34%. Here the ledger's memory overflows to its index on disk
 * throughout, which the soak then exercises too. A bound set in the environment stands.
 */
const SOAK_BOUNDS = {
  KEYGATE_KEY_CACHE_ENTRIES: '250',
  KEYGATE_RECENT_JTI_ENTRIES: '2000',
  // The session tokens remembered as verified (bound with the token cache's) and the sessions whose
  // last-seen time was written: one each a login, 23,502 logins in that soak.
  KEYGATE_TOKEN_CACHE_ENTRIES: '1000',
  KEYGATE_SESSION_TOUCH_ENTRIES: '1000',
};

/** This process's environment with the soak's bounds beneath it: what the server is started with. */
function soakEnv(): NodeJS.ProcessEnv {
  return { ...SOAK_BOUNDS, ...process.env };
}

async function startServer(dir: string, port: number, main: string): Promise<ChildProcess> {
  const server = spawn(process.execPath, [main, 'serve', '--port', String(port)], {
    env: {
      ...soakEnv(),
      KEYGATE_DATABASE: join(dir, 'soak.db'),
      KEYGATE_AUDIENCES: AUD,
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_LOGIN_RATE_LIMIT: '100000',
      KEYGATE_MAX_CONNECTIONS_PER_ADDRESS: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const probe = new Client(port);
  try {
    for (let i = 0; i < 200; i++) {
      if (server.exitCode !== null) throw new Error('the server exited');
      try {
        if ((await probe.call('GET', '/healthz')).status === 200) return server;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    probe.close();
  }
  throw new Error('the server did not start');
}

/** Runs the soak; `concurrency` clients loop over weighted scenarios until the time is up. */
export async function runSoak(options: {
  seconds: number;
  concurrency?: number;
  port?: number;
  /** Run the npm package's bundled server (as deploy/ does) instead of this checkout's sources. */
  packaged?: boolean;
}): Promise<SoakReport> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-soak-'));
  const port = options.port ?? benchPort();
  const concurrency = options.concurrency ?? 16;
  const world = await setup(join(dir, 'soak.db'), concurrency);
  const main = options.packaged ? packagedKeygate(join(dir, 'package')) : SOURCES_MAIN;
  const server = await startServer(dir, port, main);
  const client = new Client(port);
  const answers: Record<string, number> = {};
  const wrong: string[] = [];
  let serverErrors = 0;
  const check = (kind: string, answer: Answer, want: number, code?: string) => {
    answers[kind] = (answers[kind] ?? 0) + 1;
    if (answer.status >= 500) serverErrors++;
    if (answer.status !== want || (code !== undefined && answer.code !== code)) {
      if (wrong.length < 1000)
        wrong.push(`${kind}: ${answer.status} ${answer.code ?? ''} (wanted ${want} ${code ?? ''})`);
    }
  };
  const table = scenarios(world);
  const total = table.reduce((sum, [weight]) => sum + weight, 0);
  const pick = () => {
    let roll = Math.random() * total;
    for (const [weight, , run] of table) {
      roll -= weight;
      if (roll < 0) return run;
    }
    return (table[0] as (typeof table)[number])[2];
  };
  // RSS is compared between a window after a warm-up (JIT, caches, first allocations) and one
  // before the end, each a tenth of the run, the warm-up up to 60 s and the windows up to 30 s.
  // Read off /metrics every 10 s of a soak, the heap V8 reserved grew from 57 MB at 11 s to
  // 66-67 MB at 60-70 s and then stayed at 64-67 MB to the end: a window that starts before
  // then compares the end with a heap still growing to its working size, not with the server
  // as it runs.
  const warmUpMs = Math.min(60_000, options.seconds * 100);
  const windowMs = Math.min(30_000, options.seconds * 100);
  const started = Date.now();
  const end = started + options.seconds * 1000;
  const rss = new RssSampler(() => rssMb(server.pid as number));
  let atStart: ReturnType<typeof serverReadings> = Promise.resolve({ caches: {}, heapMb: 0 });
  const warmUp = setTimeout(() => {
    atStart = serverReadings(port);
  }, warmUpMs);
  try {
    await Promise.all(
      world.users.map(async (user, i) => {
        const seat: Seat = { user, from: `127.0.1.${i + 1}`, sessions: [] };
        while (Date.now() < end) {
          try {
            await pick()(client, check, seat);
          } catch (error) {
            wrong.push(`request failed: ${(error as Error).message}`);
          }
        }
      }),
    );
    const finished = Date.now();
    rss.stop();
    const atEnd = await serverReadings(port);
    const start = await atStart;
    return {
      server: options.packaged ? "the npm package's bundled server" : "this checkout's sources",
      seconds: (Date.now() - started) / 1000,
      requests: client.requests,
      answers,
      serverErrors,
      wrong,
      rssStart: rss.window(started + warmUpMs, started + warmUpMs + windowMs),
      rssEnd: rss.window(finished - windowMs, finished),
      cachesStart: start.caches,
      cachesEnd: atEnd.caches,
      heapStartMb: start.heapMb,
      heapEndMb: atEnd.heapMb,
    };
  } finally {
    clearTimeout(warmUp);
    rss.stop();
    client.close();
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The configured bound of each structure the report names, as the spawned server reads it (soakEnv). */
function configuredBounds(): Record<string, number> {
  const bounds = memoryBounds(soakEnv());
  return {
    'directory entries': bounds.keyCacheEntries,
    'directory unknownKids': bounds.unknownKidEntries,
    'token cache': bounds.tokenCacheEntries,
    'ledger recent jtis': bounds.recentJtiEntries,
    'session verified': bounds.tokenCacheEntries,
    'session touched': bounds.sessionTouchEntries,
  };
}

/**
 * RSS that grows while a bounded structure fills is the structure doing its work, not a leak: the
 * report says when one reached its bound only within the measured window, so that its growth
 * figure is read as what it is.
 */
function fillingNote(report: SoakReport, bounds: Record<string, number>): string[] {
  const filled = Object.entries(bounds)
    .filter(
      ([name, bound]) => (report.cachesStart[name] ?? 0) < bound && (report.cachesEnd[name] ?? 0) >= bound,
    )
    .map(([name]) => name);
  if (filled.length === 0) return [];
  return [
    `filled to its bound between the two RSS windows: ${filled.join(', ')}; the growth above includes it filling`,
  ];
}

export function printSoak(report: SoakReport): boolean {
  const { rssStart, rssEnd } = report;
  const bounds = configuredBounds();
  const growth = rssStart.medianMb > 0 ? (rssEnd.medianMb - rssStart.medianMb) / rssStart.medianMb : 0;
  const spread = (window: RssWindow) =>
    `${window.medianMb.toFixed(1)} MB (${window.minMb.toFixed(1)}-${window.maxMb.toFixed(1)}, ${window.readings} readings)`;
  const lines = [
    `Soak of ${report.server}: ${report.seconds.toFixed(0)} s, ${report.requests} requests (${(report.requests / report.seconds).toFixed(0)}/s)`,
    ...Object.entries(report.answers)
      .sort(([, a], [, b]) => b - a)
      .map(([kind, count]) => `  ${kind.padEnd(18)} ${count}`),
    `5xx answers:   ${report.serverErrors}`,
    `wrong answers: ${report.wrong.length}${report.wrong.length ? `\n  ${[...new Set(report.wrong)].slice(0, 10).join('\n  ')}` : ''}`,
    `server RSS, median of a reading a second: ${spread(rssStart)} after warm-up -> ${spread(rssEnd)} at the end (${(growth * 100).toFixed(1)}%)`,
    `V8 heap reserved: ${report.heapStartMb.toFixed(1)} MB after warm-up -> ${report.heapEndMb.toFixed(1)} MB at the end`,
    `bounded structures after warm-up -> at the end (entries):`,
    ...Object.entries(report.cachesEnd).map(([name, end]) => {
      const bound = bounds[name];
      const start = String(report.cachesStart[name] ?? '?').padStart(7);
      return `  ${name.padEnd(22)} ${start} -> ${end}${bound ? ` (bound ${bound}${end >= bound ? ', full' : ''})` : ''}`;
    }),
    ...fillingNote(report, bounds),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return report.serverErrors === 0 && report.wrong.length === 0 && growth < 0.1;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? Number(args[at + 1]) : undefined;
  };
  const seconds = (value('--minutes') ?? 0) * 60 || value('--seconds') || 60;
  const ok = printSoak(await runSoak({ seconds, packaged: args.includes('--package') }));
  process.exitCode = ok ? 0 : 1;
}
