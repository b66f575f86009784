/**
 * One flood against one bounded structure, run in its own process so that the heap it reports is
 * this flood's alone, measured after full collections:
 *
 *   node --expose-gc --no-flush-bytecode test/service/memory-floods.ts <flood> <bound> <count>
 *
 * Prints one JSON line: the largest size the structure reached (sampled after every batch), and
 * heapUsed before and after the flood. "Before" is taken after a tenth of the flood, once the
 * code has compiled and its lazily made objects exist, so the growth is what the other nine
 * tenths added. --no-flush-bytecode keeps V8 from discarding the bytecode of start-up code
 * part-way through, which made the heap shrink by 5 MB during a 50,000-login flood and would
 * hide as much growth.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { MemoryBounds } from '../../src/core/memory-bounds.ts';
import { SESSION_ISSUER, SESSION_TYP } from '../../src/core/session-token.ts';
import { buildApp } from '../../src/http/app.ts';
import { Authenticator } from '../../src/service/authenticator.ts';
import { KeyDirectory } from '../../src/service/key-directory.ts';
import { type Keygate, startKeygate } from '../../src/service/keygate.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { AUD, b64, ecPair, NOW, POLICY, signJwt } from '../helpers.ts';

export type Flood = 'tokens' | 'kids' | 'logins' | 'sessions' | 'bindings';

export interface FloodReport {
  flood: Flood;
  bound: number;
  count: number;
  maxSize: number;
  heapBefore: number;
  heapAfter: number;
  ms: number;
}

/** One flood: `run(from, to)` sends requests [from, to) and resolves with the structure's size. */
interface FloodRun {
  batch: number;
  run(from: number, to: number): Promise<number>;
  close(): Promise<void>;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  if (!gc) throw new Error('run with node --expose-gc');
  // Twice: what the first collection's weak callbacks let go of is freed by the second.
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function memoryKeygate(memory: Partial<MemoryBounds>): Promise<Keygate> {
  return startKeygate({
    database: ':memory:',
    policy: POLICY,
    clock: () => NOW,
    pollMs: 60_000,
    memory,
    // The smallest argon2id Node accepts: the login flood measures the maps, not the hash.
    argon2: { memoryKiB: 8, passes: 1, parallelism: 1 },
  });
}

/**
 * Distinct valid ES256 tokens, each verified, bound in the ledger, and sent again: a token enters
 * the cache on its second use (TokenCache).
 */
async function tokens(bound: number): Promise<FloodRun> {
  // The ledger's memory bounded alike, so that the heap measures the cache (its own flood: bindings).
  const keygate = await memoryKeygate({ tokenCacheEntries: bound, recentJtiEntries: bound });
  const pair = ecPair();
  const org = await keygate.keys.createOrg('Flood Org');
  const key = await keygate.keys.registerKey({
    orgId: org.id,
    publicKey: pair.publicPem,
    grantedByAdmin: true,
  });
  const header = { alg: 'ES256', typ: 'JWT' };
  const claims = { aud: AUD, exp: NOW + 3600, iat: NOW, iss: org.id, sub: 'alice', kid: key.key_id };
  return {
    batch: 500,
    async run(from, to) {
      const work: Promise<unknown>[] = [];
      for (let i = from; i < to; i++) {
        const token = signJwt(header, { ...claims, jti: `j${i}` }, pair.privateKey);
        work.push(
          keygate.authenticator.authenticate(token).then(() => keygate.authenticator.authenticate(token)),
        );
      }
      await Promise.all(work);
      return keygate.authenticator.cache.size;
    },
    close: () => keygate.close(),
  };
}

/**
 * Distinct made-up kids of the form the store issues, each asked of the store: a directory with
 * no miss budget to speak of, so that every kid reaches the unknown-kid memory. The signature
 * is never looked at, since no key is found.
 */
async function kids(bound: number): Promise<FloodRun> {
  const keygate = await memoryKeygate({});
  const org = await keygate.keys.createOrg('Flood Org');
  const directory = new KeyDirectory(keygate.store, {
    pollMs: 60_000,
    maxUnknownKids: bound,
    missLookupsPerSecond: 1e9,
  });
  await directory.start();
  const authenticator = new Authenticator({ ...keygate, directory });
  const header = b64({ alg: 'ES256', typ: 'JWT' });
  const signature = randomBytes(64).toString('base64url');
  const claims = { aud: AUD, exp: NOW + 3600, iat: NOW, iss: org.id, sub: 'alice', jti: 'j' };
  return {
    batch: 1000,
    async run(from, to) {
      const work: Promise<unknown>[] = [];
      for (let i = from; i < to; i++) {
        const token = `${header}.${b64({ ...claims, kid: randomUUID() })}.${signature}`;
        work.push(
          authenticator
            .authenticate(token)
            .then(unexpected, (error: Error) => expectCode(error, 'kid_unknown')),
        );
      }
      await Promise.all(work);
      return directory.sizes.unknownKids;
    },
    close: async () => {
      await directory.stop();
      await keygate.close();
    },
  };
}

/**
 * Distinct login names from distinct client addresses through POST /auth/login: each attempt is
 * counted by the rate limiter (in memory) and by the login throttle (in the store), and hashed
 * against the dummy. The rate limiter's size is not exposed; the heap says whether it is bounded.
 */
async function logins(bound: number): Promise<FloodRun> {
  const keygate = await memoryKeygate({});
  const app = await buildApp(keygate, { loginRateLimit: 5, rateLimitEntries: bound });
  const payload = (i: number) =>
    JSON.stringify({ user: `flood-${i}@example.com`, pass_hash: '0'.repeat(64) });
  return {
    // The hasher's queue holds 16: more at once would be shed with 503 before being counted.
    batch: 16,
    async run(from, to) {
      const work: Promise<unknown>[] = [];
      for (let i = from; i < to; i++) {
        const remoteAddress = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        work.push(
          app
            .inject({
              method: 'POST',
              url: '/auth/login',
              remoteAddress,
              headers: { 'content-type': 'application/json' },
              payload: payload(i),
            })
            .then((response) => {
              if (response.statusCode !== 401)
                throw new Error(`login ${i}: ${response.statusCode} ${response.body}`);
            }),
        );
      }
      await Promise.all(work);
      return -1;
    },
    close: async () => {
      await app.close();
      await keygate.close();
    },
  };
}

/** Distinct live sessions, each used once: every one writes its last-seen time. */
async function sessions(bound: number): Promise<FloodRun> {
  const keygate = await memoryKeygate({ sessionTouchEntries: bound, tokenCacheEntries: bound });
  const org = await keygate.keys.createOrg('Flood Org');
  const user = await keygate.users.create({
    orgId: org.id,
    email: 'ali@example.com',
    passHash: '0'.repeat(64),
  });
  // Issued a minute before now, so that the first use of each session writes its last-seen time.
  const issued = NOW - 60;
  return {
    batch: 500,
    async run(from, to) {
      const work: Promise<unknown>[] = [];
      for (let i = from; i < to; i++) {
        const sid = randomUUID();
        const expiresAt = issued + 3600;
        work.push(
          keygate.store
            .createSession({
              id: sid,
              userId: user.id,
              role: user.role,
              createdAt: issued,
              lastSeenAt: issued,
              expiresAt,
              revokedAt: null,
              revokedReason: null,
            })
            .then(() =>
              keygate.authenticator.authenticate(
                keygate.keyring.sign(
                  { alg: 'ES256', typ: SESSION_TYP },
                  {
                    iss: SESSION_ISSUER,
                    aud: AUD,
                    sub: user.id,
                    org_id: org.id,
                    role: user.role,
                    sid,
                    iat: issued,
                    exp: expiresAt,
                  },
                ),
              ),
            ),
        );
      }
      await Promise.all(work);
      return keygate.sessions.touchedSize;
    },
    close: () => keygate.close(),
  };
}

function unexpected(): never {
  throw new Error('a token naming a made-up kid was accepted');
}

function expectCode(error: Error & { rejection?: { code: string } }, code: string): void {
  if (error.rejection?.code !== code) throw error;
}

/**
 * Distinct jti claims bound in the embedded store's replay ledger, whose recent bindings it
 * indexes in memory: the store alone, as the service hands it each turn's batch.
 */
async function bindings(bound: number): Promise<FloodRun> {
  const store = new SqliteStore(':memory:', { recentJtiEntries: bound });
  return {
    batch: 500,
    async run(from, to) {
      const claims = [];
      for (let i = from; i < to; i++)
        claims.push({ iss: 'flood-org', jti: `j${i}`, tokenHash: `token-${i}`, expiresAt: NOW + 3600 });
      const answers = await store.bindJtis(claims, NOW);
      if (answers.some((answer) => answer !== 'bound')) throw new Error('a fresh claim was not bound');
      return store.recentJtiEntries;
    },
    close: () => store.close(),
  };
}

const FLOODS: Record<Flood, (bound: number) => Promise<FloodRun>> = {
  tokens,
  kids,
  logins,
  sessions,
  bindings,
};

/** Runs `count` requests of a flood against a structure bounded to `bound` entries. */
export async function runFlood(flood: Flood, bound: number, count: number): Promise<FloodReport> {
  const started = performance.now();
  const target = await FLOODS[flood](bound);
  const warmUp = Math.min(count, Math.max(2 * target.batch, Math.floor(count / 10)));
  let maxSize = 0;
  const drive = async (from: number, to: number) => {
    for (let i = from; i < to; i += target.batch)
      maxSize = Math.max(maxSize, await target.run(i, Math.min(to, i + target.batch)));
  };
  await drive(0, warmUp);
  const heapBefore = heapUsed();
  await drive(warmUp, count);
  const heapAfter = heapUsed();
  await target.close();
  return { flood, bound, count, maxSize, heapBefore, heapAfter, ms: Math.round(performance.now() - started) };
}

if (import.meta.main) {
  const [flood, bound, count] = process.argv.slice(2);
  const report = await runFlood(flood as Flood, Number(bound), Number(count));
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
