import {
  ConfigError,
  type Env,
  flag,
  integer,
  metricsToken,
  redisUrl,
  trustedProxies,
} from './config/values.ts';
import { DEFAULT_KEY_EXPIRY_WARNING_DAYS } from './core/key-expiry.ts';
import { DEFAULT_MEMORY_BOUNDS, type MemoryBounds } from './core/memory-bounds.ts';
import type { VerificationPolicy } from './core/policy.ts';
import { DEFAULT_POLICY } from './core/policy.ts';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './core/server-limits.ts';
import { DEFAULT_SESSION_POLICY, type SessionPolicy } from './core/session-policy.ts';

export { defaultSecretPath, readPepper, readSessionSecret } from './config/secrets.ts';
export { ConfigError } from './config/values.ts';

/** Everything a deployment can set, from the environment; CLI flags of the same name win. */
export interface Config {
  port: number;
  host: string;
  database: string;
  /** KEYGATE_REDIS_URL: the replay ledger and the login rate limits go to this Redis, shared by every node. */
  redisUrl: string | undefined;
  /** KEYGATE_REDIS_PREFIX: put before every key Keygate writes in Redis. */
  redisPrefix: string;
  /** KEYGATE_REDIS_TIMEOUT_MS: how long a Redis command may wait for its answer before the request gets 503. */
  redisTimeoutMs: number;
  policy: VerificationPolicy;
  session: SessionPolicy;
  /** KEYGATE_PEPPER_FILE: a secret mixed into every password hash; the path, never the bytes, is in the environment. */
  pepperFile: string | undefined;
  /**
   * KEYGATE_SECRET_FILE: the secret that seals session signing keys in the store; unset, a file
   * made beside the database (readSessionSecret).
   */
  secretFile: string | undefined;
  /** Login attempts per client address per minute. */
  loginRateLimit: number;
  /** Timeouts and connection caps of the HTTP server. */
  limits: ServerLimits;
  /** How long a request waits for a store another process has locked before answering 503. */
  storeLockWaitMs: number;
  /** KEYGATE_DATABASE_POOL_SIZE: connections each process keeps to a PostgreSQL store. */
  databasePoolSize: number;
  /**
   * KEYGATE_KEY_FEED_MAX_LAG_MS: how long a process may go without reading the store's key
   * changes before it stops answering from its key and verified-token caches (503 keys_stale).
   */
  keyFeedMaxLagMs: number;
  /** KEYGATE_KEY_EXPIRY_WARNING_DAYS: a key expiring within this many days is flagged expires_soon; 0 flags none. */
  keyExpiryWarningDays: number;
  /** Live keys an organization (KEYGATE_MAX_KEYS_PER_ORG) and a user (KEYGATE_MAX_KEYS_PER_USER) may hold through the API. */
  keyCaps: { perOrg: number; perOwner: number };
  /** KEYGATE_AUDIT_RETENTION_DAYS: audit events older than this many days are deleted. */
  auditRetentionDays: number;
  /** Entries each in-memory cache may hold (KEYGATE_TOKEN_CACHE_ENTRIES and the others). */
  memory: MemoryBounds;
  /**
   * KEYGATE_TRUST_PROXY: addresses or CIDR ranges of the reverse proxies in front of Keygate,
   * whose X-Forwarded-For names the client. Empty: the peer's own address is the client's.
   */
  trustProxy: string[];
  /** KEYGATE_ACCESS_LOG: one log line per request (method, route, status, time, address, code). */
  accessLog: boolean;
  /** KEYGATE_METRICS_TOKEN: the bearer token GET /metrics asks for; unset, it is open like /healthz. */
  metricsToken: string | undefined;
}

export function loadConfig(
  env: Env,
  flags: Partial<Record<'port' | 'host' | 'database', string>> = {},
): Config {
  return {
    port: integer('KEYGATE_PORT', flags.port ?? env.KEYGATE_PORT, 8080, 0, 65535),
    host: flags.host ?? env.KEYGATE_HOST ?? '127.0.0.1',
    database: flags.database ?? env.KEYGATE_DATABASE ?? './data/keygate.db',
    redisUrl: redisUrl(env.KEYGATE_REDIS_URL),
    redisPrefix: env.KEYGATE_REDIS_PREFIX ?? 'keygate:',
    redisTimeoutMs: integer('KEYGATE_REDIS_TIMEOUT_MS', env.KEYGATE_REDIS_TIMEOUT_MS, 1000, 10, 60000),
    policy: verificationPolicy(env),
    session: sessionPolicy(env),
    pepperFile: env.KEYGATE_PEPPER_FILE || undefined,
    secretFile: env.KEYGATE_SECRET_FILE || undefined,
    loginRateLimit: integer('KEYGATE_LOGIN_RATE_LIMIT', env.KEYGATE_LOGIN_RATE_LIMIT, 20, 1, 100000),
    limits: serverLimits(env),
    storeLockWaitMs: integer('KEYGATE_STORE_LOCK_WAIT_MS', env.KEYGATE_STORE_LOCK_WAIT_MS, 3000, 0, 60000),
    databasePoolSize: integer('KEYGATE_DATABASE_POOL_SIZE', env.KEYGATE_DATABASE_POOL_SIZE, 10, 1, 1000),
    // At least two polls (250 ms apart) must be able to fail before the caches are refused.
    keyFeedMaxLagMs: integer(
      'KEYGATE_KEY_FEED_MAX_LAG_MS',
      env.KEYGATE_KEY_FEED_MAX_LAG_MS,
      1000,
      500,
      600000,
    ),
    keyExpiryWarningDays: integer(
      'KEYGATE_KEY_EXPIRY_WARNING_DAYS',
      env.KEYGATE_KEY_EXPIRY_WARNING_DAYS,
      DEFAULT_KEY_EXPIRY_WARNING_DAYS,
      0,
      3650,
    ),
    auditRetentionDays: integer(
      'KEYGATE_AUDIT_RETENTION_DAYS',
      env.KEYGATE_AUDIT_RETENTION_DAYS,
      90,
      1,
      36_500,
    ),
    keyCaps: keyCaps(env),
    memory: memoryBounds(env),
    trustProxy: trustedProxies(env.KEYGATE_TRUST_PROXY),
    accessLog: flag('KEYGATE_ACCESS_LOG', env.KEYGATE_ACCESS_LOG),
    metricsToken: metricsToken(env.KEYGATE_METRICS_TOKEN),
  };
}

/** How tokens are checked: the audiences this deployment answers to, leeway and longest lifetime. */
function verificationPolicy(env: Env): Config['policy'] {
  const audiences = (env.KEYGATE_AUDIENCES ?? DEFAULT_POLICY.audiences.join(','))
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a.length > 0);
  if (audiences.length === 0) {
    throw new ConfigError(
      "KEYGATE_AUDIENCES is empty: give a comma list of audiences, this region's own host first.",
    );
  }
  return {
    audiences,
    leewaySeconds: integer('KEYGATE_LEEWAY_SECONDS', env.KEYGATE_LEEWAY_SECONDS, 60, 0, 300),
    maxLifetimeSeconds: integer(
      'KEYGATE_MAX_TOKEN_LIFETIME_SECONDS',
      env.KEYGATE_MAX_TOKEN_LIFETIME_SECONDS,
      3600,
      60,
      86400,
    ),
  };
}

function sessionPolicy(env: Env): Config['session'] {
  return {
    ...DEFAULT_SESSION_POLICY,
    idleSeconds: integer('KEYGATE_SESSION_IDLE_SECONDS', env.KEYGATE_SESSION_IDLE_SECONDS, 1800, 60, 86400),
    absoluteSeconds: integer(
      'KEYGATE_SESSION_MAX_SECONDS',
      env.KEYGATE_SESSION_MAX_SECONDS,
      43200,
      300,
      30 * 86400,
    ),
  };
}

function keyCaps(env: Env): Config['keyCaps'] {
  return {
    perOrg: integer('KEYGATE_MAX_KEYS_PER_ORG', env.KEYGATE_MAX_KEYS_PER_ORG, 1000, 1, 10_000_000),
    perOwner: integer('KEYGATE_MAX_KEYS_PER_USER', env.KEYGATE_MAX_KEYS_PER_USER, 10, 1, 10_000),
  };
}

/** Zero is refused: each cache keeps the entry it was just given, so zero would mean one. */
export function memoryBounds(env: Env): MemoryBounds {
  const entries = (name: string, fallback: number) => integer(name, env[name], fallback, 1, 10_000_000);
  const defaults = DEFAULT_MEMORY_BOUNDS;
  return {
    tokenCacheEntries: entries('KEYGATE_TOKEN_CACHE_ENTRIES', defaults.tokenCacheEntries),
    keyCacheEntries: entries('KEYGATE_KEY_CACHE_ENTRIES', defaults.keyCacheEntries),
    unknownKidEntries: entries('KEYGATE_UNKNOWN_KID_ENTRIES', defaults.unknownKidEntries),
    sessionTouchEntries: entries('KEYGATE_SESSION_TOUCH_ENTRIES', defaults.sessionTouchEntries),
    rateLimitEntries: entries('KEYGATE_RATE_LIMIT_ENTRIES', defaults.rateLimitEntries),
    recentJtiEntries: entries('KEYGATE_RECENT_JTI_ENTRIES', defaults.recentJtiEntries),
  };
}

/** Timeouts and connection caps; each timeout is at least 100 ms, since 0 would mean "never". */
function serverLimits(env: Env): ServerLimits {
  const defaults = DEFAULT_SERVER_LIMITS;
  const limits: ServerLimits = {
    requestTimeoutMs: integer(
      'KEYGATE_REQUEST_TIMEOUT_MS',
      env.KEYGATE_REQUEST_TIMEOUT_MS,
      defaults.requestTimeoutMs,
      100,
      600_000,
    ),
    headersTimeoutMs: integer(
      'KEYGATE_HEADERS_TIMEOUT_MS',
      env.KEYGATE_HEADERS_TIMEOUT_MS,
      defaults.headersTimeoutMs,
      100,
      600_000,
    ),
    keepAliveTimeoutMs: integer(
      'KEYGATE_KEEP_ALIVE_TIMEOUT_MS',
      env.KEYGATE_KEEP_ALIVE_TIMEOUT_MS,
      defaults.keepAliveTimeoutMs,
      100,
      600_000,
    ),
    maxConnections: integer(
      'KEYGATE_MAX_CONNECTIONS',
      env.KEYGATE_MAX_CONNECTIONS,
      defaults.maxConnections,
      1,
      1_000_000,
    ),
    maxConnectionsPerAddress: integer(
      'KEYGATE_MAX_CONNECTIONS_PER_ADDRESS',
      env.KEYGATE_MAX_CONNECTIONS_PER_ADDRESS,
      defaults.maxConnectionsPerAddress,
      0,
      1_000_000,
    ),
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError(
      `KEYGATE_HEADERS_TIMEOUT_MS=${limits.headersTimeoutMs} is longer than KEYGATE_REQUEST_TIMEOUT_MS=${limits.requestTimeoutMs}: the headers are part of the request.`,
    );
  }
  return limits;
}
