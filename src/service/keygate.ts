import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { DEFAULT_KEY_EXPIRY_WARNING_DAYS } from '../core/key-expiry.ts';
import { DEFAULT_MEMORY_BOUNDS, type MemoryBounds } from '../core/memory-bounds.ts';
import type { VerificationPolicy } from '../core/policy.ts';
import { DEFAULT_SESSION_POLICY, type SessionPolicy } from '../core/session-policy.ts';
import type { Clock } from '../core/time.ts';
import { openStore } from '../store/open-store.ts';
import type { RedisKeySignal } from '../store/redis-key-signal.ts';
import type { RedisReplayLedger } from '../store/redis-ledger.ts';
import type { RedisLink, RedisLinkOptions } from '../store/redis-link.ts';
import type { KeyCaps, Store } from '../store/store.ts';
import { AuditLog } from './audit-log.ts';
import { Authenticator } from './authenticator.ts';
import { systemClock } from './clock.ts';
import { KeyAdmin } from './key-admin.ts';
import { KeyDirectory } from './key-directory.ts';
import { LoginAudit } from './login-audit.ts';
import { Metrics } from './metrics.ts';
import { type Argon2Params, PasswordHasher } from './password-hasher.ts';
import { ServerKeyring } from './server-keyring.ts';
import { Sessions } from './sessions.ts';
import { Signatures } from './signatures.ts';
import { SigningKeys } from './signing-keys.ts';
import { timedStore } from './timed-store.ts';
import { TokenCache } from './token-cache.ts';
import { UserAdmin } from './users.ts';

/** The services one Keygate process runs, wired to one store. */
export interface Keygate {
  store: Store;
  policy: VerificationPolicy;
  clock: Clock;
  directory: KeyDirectory;
  authenticator: Authenticator;
  keys: KeyAdmin;
  users: UserAdmin;
  sessions: Sessions;
  signatures: Signatures;
  keyring: ServerKeyring;
  hasher: PasswordHasher;
  signingKeys: SigningKeys;
  /** The audit trail: login events queue here; changes are recorded by the store itself. */
  audit: AuditLog;
  /** Redis, when KEYGATE_REDIS_URL is set: the replay ledger and the login rate limits of every node. */
  redis?: RedisLink;
  /** What this process counts for /metrics: decisions, logins, refusals, store calls. */
  metrics: Metrics;
  close(): Promise<void>;
}

export interface KeygateOptions {
  database: string;
  policy: VerificationPolicy;
  clock?: Clock;
  pollMs?: number;
  /** How long the key change feed may go unread before the key caches are refused (KEYGATE_KEY_FEED_MAX_LAG_MS). */
  maxFeedLagMs?: number;
  sessionPolicy?: SessionPolicy;
  pepper?: Buffer;
  /**
   * The secret that seals session signing keys in the store (config.ts readSessionSecret).
   * Required for a database on disk; an in-memory one, gone with the process, gets a throwaway.
   */
  secret?: Buffer;
  argon2?: Argon2Params;
  /** Password hashes running at once; the default leaves one core to the event loop. */
  hashConcurrency?: number;
  /** How long a request waits for a store another process has locked (KEYGATE_STORE_LOCK_WAIT_MS). */
  storeLockWaitMs?: number;
  /** Connections to a PostgreSQL store (KEYGATE_DATABASE_POOL_SIZE). */
  storePoolSize?: number;
  /** Live keys an organization and a user may hold through the API (KEYGATE_MAX_KEYS_PER_*). */
  keyCaps?: KeyCaps;
  /** How many days audit events are kept (KEYGATE_AUDIT_RETENTION_DAYS). */
  auditRetentionDays?: number;
  /** How soon before its expiry a key is flagged and /auth/hello warns (KEYGATE_KEY_EXPIRY_WARNING_DAYS). */
  keyExpiryWarningSeconds?: number;
  /** Server processes sharing this machine's cores (`serve --workers`); 1 by default. */
  serverProcesses?: number;
  /** Entries each cache may hold (KEYGATE_*_ENTRIES); the rate limiter's is buildApp's. */
  memory?: Partial<MemoryBounds>;
  /** KEYGATE_REDIS_URL and its settings; unset, the replay ledger is in the store and the rate limits in memory. */
  redis?: RedisLinkOptions & { url: string };
}

export const DEFAULT_AUDIT_RETENTION_DAYS = 90;

export const DEFAULT_KEY_CAPS: KeyCaps = { perOrg: 1000, perOwner: 10 };

export async function startKeygate(options: KeygateOptions): Promise<Keygate> {
  if (!options.secret && options.database !== ':memory:') {
    throw new Error('A database on disk needs its session secret (readSessionSecret in config.ts).');
  }
  const metrics = new Metrics();
  const memory = { ...DEFAULT_MEMORY_BOUNDS, ...options.memory };
  const store = timedStore(
    await openStore(options.database, {
      backgroundCheckpoints: true,
      recentJtiEntries: memory.recentJtiEntries,
      ...(options.storeLockWaitMs !== undefined && { lockWaitMs: options.storeLockWaitMs }),
      ...(options.storePoolSize !== undefined && { poolSize: options.storePoolSize }),
    }),
    metrics,
  );
  const clock = options.clock ?? systemClock;
  const sessionPolicy = options.sessionPolicy ?? DEFAULT_SESSION_POLICY;
  const keyExpiryWarningSeconds = options.keyExpiryWarningSeconds ?? DEFAULT_KEY_EXPIRY_WARNING_DAYS * 86400;
  const redisParts = options.redis && (await openRedis(options.redis));
  const redis = redisParts?.link;
  const signal = redisParts?.signal;
  const directory = new KeyDirectory(store, {
    ...(signal && { signal }),
    maxEntries: memory.keyCacheEntries,
    maxUnknownKids: memory.unknownKidEntries,
    ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
    ...(options.maxFeedLagMs !== undefined && { maxFeedLagMs: options.maxFeedLagMs }),
  });
  await directory.start().catch(async (error: unknown) => {
    await signal?.close();
    await redis?.close();
    await store.close();
    throw error;
  });
  // Redis down at start is not fatal: what needs it answers 503 until it comes (redis-link.ts).
  await redis?.connected(redis.timeoutMs);
  const keyring = new ServerKeyring(store, clock, {
    secret: options.secret ?? randomBytes(32),
    sessionSeconds: sessionPolicy.absoluteSeconds,
  });
  try {
    await keyring.start({ reloadMs: 30_000 });
  } catch (error) {
    await directory.stop();
    await signal?.close();
    await redis?.close();
    await store.close();
    throw error;
  }
  const hasher = new PasswordHasher({
    concurrency: options.hashConcurrency ?? Math.max(1, availableParallelism() - 1),
    ...(options.pepper && { pepper: options.pepper }),
    ...(options.argon2 && { params: options.argon2 }),
  });
  const audit = new AuditLog(store, clock);
  const sessions = new Sessions({
    audit: new LoginAudit(store, audit),
    store,
    hasher,
    keyring,
    clock,
    policy: options.policy,
    sessionPolicy,
    maxTouched: memory.sessionTouchEntries,
  });
  const authenticator = new Authenticator({
    store,
    directory,
    serverProcesses: options.serverProcesses,
    policy: options.policy,
    clock,
    cache: new TokenCache(memory.tokenCacheEntries),
    signedSessionEntries: memory.tokenCacheEntries,
    sessions,
    keyring,
    metrics,
    ...(redisParts && { ledgerStore: redisParts.ledger }),
    keyExpiryWarningSeconds,
  });
  const keys = new KeyAdmin(store, clock, directory);
  // One round at a time: a large backlog is deleted in small batches that let requests run in
  // between, so a round may outlast the interval.
  let pruning = false;
  const retentionDays = options.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
  const pruner = setInterval(() => {
    if (pruning) return;
    pruning = true;
    (async () => {
      try {
        await store.pruneJti(clock());
        await store.pruneSessions(clock());
        await store.pruneLoginAttempts(clock());
        // Keys past their rotation grace are refused already (checkKeyUsable); this records it.
        if ((await store.revokeDueKeys(clock())) > 0) signal?.publish();
        await store.pruneAudit(clock() - retentionDays * 86400);
      } finally {
        pruning = false;
      }
    })().catch(() => {
      // Expired rows are harmless (bindJtis replaces them, ended sessions are refused, an ended
      // throttle window counts nothing); the next round tries again.
    });
  }, 60_000);
  pruner.unref();
  return {
    store,
    policy: options.policy,
    clock,
    directory,
    authenticator,
    keys,
    users: new UserAdmin({ store, hasher, clock, keys }),
    sessions,
    signatures: new Signatures({ store, directory, clock }),
    keyring,
    hasher,
    ...(redis && { redis }),
    metrics,
    signingKeys: new SigningKeys({
      store,
      keys,
      directory,
      clock,
      caps: options.keyCaps ?? DEFAULT_KEY_CAPS,
      expiryWarningSeconds: keyExpiryWarningSeconds,
    }),
    audit,
    async close() {
      clearInterval(pruner);
      await audit.close();
      keyring.stop();
      await directory.stop();
      await signal?.close();
      await redis?.close();
      await store.close();
    },
  };
}

// ioredis and its modules are loaded only where KEYGATE_REDIS_URL is set: a node without Redis
// does not pay for them at start.
async function openRedis(
  options: RedisLinkOptions & { url: string },
): Promise<{ link: RedisLink; signal: RedisKeySignal; ledger: RedisReplayLedger }> {
  const [{ RedisLink }, { RedisKeySignal }, { RedisReplayLedger }] = await Promise.all([
    import('../store/redis-link.ts'),
    import('../store/redis-key-signal.ts'),
    import('../store/redis-ledger.ts'),
  ]);
  const link = new RedisLink(options.url, options);
  return { link, signal: new RedisKeySignal(link), ledger: new RedisReplayLedger(link) };
}
