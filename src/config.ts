import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { DEFAULT_KEY_EXPIRY_WARNING_DAYS } from './core/key-expiry.ts';
import { DEFAULT_MEMORY_BOUNDS, type MemoryBounds } from './core/memory-bounds.ts';
import type { VerificationPolicy } from './core/policy.ts';
import { DEFAULT_POLICY } from './core/policy.ts';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './core/server-limits.ts';
import { DEFAULT_SESSION_POLICY, type SessionPolicy } from './core/session-policy.ts';

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

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

export function loadConfig(
  env: Env,
  flags: Partial<Record<'port' | 'host' | 'database', string>> = {},
): Config {
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
    port: integer('KEYGATE_PORT', flags.port ?? env.KEYGATE_PORT, 8080, 0, 65535),
    host: flags.host ?? env.KEYGATE_HOST ?? '127.0.0.1',
    database: flags.database ?? env.KEYGATE_DATABASE ?? './data/keygate.db',
    redisUrl: redisUrl(env.KEYGATE_REDIS_URL),
    redisPrefix: env.KEYGATE_REDIS_PREFIX ?? 'keygate:',
    redisTimeoutMs: integer('KEYGATE_REDIS_TIMEOUT_MS', env.KEYGATE_REDIS_TIMEOUT_MS, 1000, 10, 60000),
    policy: {
      audiences,
      leewaySeconds: integer('KEYGATE_LEEWAY_SECONDS', env.KEYGATE_LEEWAY_SECONDS, 60, 0, 300),
      maxLifetimeSeconds: integer(
        'KEYGATE_MAX_TOKEN_LIFETIME_SECONDS',
        env.KEYGATE_MAX_TOKEN_LIFETIME_SECONDS,
        3600,
        60,
        86400,
      ),
    },
    session: {
      ...DEFAULT_SESSION_POLICY,
      idleSeconds: integer('KEYGATE_SESSION_IDLE_SECONDS', env.KEYGATE_SESSION_IDLE_SECONDS, 1800, 60, 86400),
      absoluteSeconds: integer(
        'KEYGATE_SESSION_MAX_SECONDS',
        env.KEYGATE_SESSION_MAX_SECONDS,
        43200,
        300,
        30 * 86400,
      ),
    },
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
    keyCaps: {
      perOrg: integer('KEYGATE_MAX_KEYS_PER_ORG', env.KEYGATE_MAX_KEYS_PER_ORG, 1000, 1, 10_000_000),
      perOwner: integer('KEYGATE_MAX_KEYS_PER_USER', env.KEYGATE_MAX_KEYS_PER_USER, 10, 1, 10_000),
    },
    memory: memoryBounds(env),
    trustProxy: trustedProxies(env.KEYGATE_TRUST_PROXY),
    accessLog: flag('KEYGATE_ACCESS_LOG', env.KEYGATE_ACCESS_LOG),
    metricsToken: metricsToken(env.KEYGATE_METRICS_TOKEN),
  };
}

/**
 * A comma list of IP addresses and CIDR ranges. Only those proxies' X-Forwarded-For is believed:
 * from anyone else the header is a client's own say-so, and the rate limits and the login
 * throttle, keyed by the client address, would be any client's to dodge or to aim at another.
 */
function trustedProxies(raw: string | undefined): string[] {
  const entries = (raw ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 4 ? 32 : 128;
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !validBits || extra !== undefined) {
      throw new ConfigError(
        `KEYGATE_TRUST_PROXY: "${entry}" is not an IP address or CIDR range. ` +
          'Give the addresses of the proxies in front of Keygate, e.g. 127.0.0.1,10.0.0.0/8.',
      );
    }
  }
  return entries;
}

function flag(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not 1 (on) or 0 (off).`);
}

/** A guessable token would guard nothing: at least 16 characters (openssl rand -hex 16 makes 32). */
function metricsToken(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (raw.length < 16 || /\s/.test(raw)) {
    throw new ConfigError(
      'KEYGATE_METRICS_TOKEN must be at least 16 characters with no spaces; make one with: openssl rand -hex 16',
    );
  }
  return raw;
}

/** A redis:// or rediss:// (TLS) URL; anything else is refused here rather than by the first request. */
function redisUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!/^rediss?:\/\/[^/]/.test(raw)) {
    throw new ConfigError(
      'KEYGATE_REDIS_URL must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379.',
    );
  }
  return raw;
}

/** Zero is refused: each cache keeps the entry it was just given, so zero would mean one. */
function memoryBounds(env: Env): MemoryBounds {
  const entries = (name: string, fallback: number) => integer(name, env[name], fallback, 1, 10_000_000);
  const defaults = DEFAULT_MEMORY_BOUNDS;
  return {
    tokenCacheEntries: entries('KEYGATE_TOKEN_CACHE_ENTRIES', defaults.tokenCacheEntries),
    keyCacheEntries: entries('KEYGATE_KEY_CACHE_ENTRIES', defaults.keyCacheEntries),
    unknownKidEntries: entries('KEYGATE_UNKNOWN_KID_ENTRIES', defaults.unknownKidEntries),
    sessionTouchEntries: entries('KEYGATE_SESSION_TOUCH_ENTRIES', defaults.sessionTouchEntries),
    rateLimitEntries: entries('KEYGATE_RATE_LIMIT_ENTRIES', defaults.rateLimitEntries),
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

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}.`);
  }
  return value;
}

/** Reads the pepper named by KEYGATE_PEPPER_FILE; refuses a file others can read. */
export function readPepper(path: string | undefined): Buffer | undefined {
  return path ? readSecretFile(path, `KEYGATE_PEPPER_FILE=${path}`, 16) : undefined;
}

/** Bytes of a secret file Keygate makes itself. */
const SECRET_BYTES = 32;

/**
 * The secret that seals session signing keys in the store (service/key-seal.ts), so that a copy
 * of the database alone holds no key that signs sessions. KEYGATE_SECRET_FILE names it; unset,
 * it is `<database>.secret`, made at first start with 32 random bytes. Either way the file must
 * be private (mode 0600) and hold at least 32 bytes. An in-memory database gets none: its keys
 * live as long as the process (the caller makes a throwaway secret).
 */
export function readSessionSecret(config: Pick<Config, 'secretFile' | 'database'>): Buffer | undefined {
  if (config.secretFile) return readSecretFile(config.secretFile, `KEYGATE_SECRET_FILE=${config.secretFile}`);
  if (config.database === ':memory:') return undefined;
  if (/^postgres(ql)?:\/\//.test(config.database)) {
    throw new ConfigError(
      'A PostgreSQL store needs KEYGATE_SECRET_FILE: every node must use the same secret.',
    );
  }
  const path = defaultSecretPath(config.database);
  try {
    createSecretFile(path);
  } catch (error) {
    throw new ConfigError(`Cannot make the secret file ${path}: ${(error as Error).message}`);
  }
  return readSecretFile(path, `The secret file ${path} (set KEYGATE_SECRET_FILE to keep it elsewhere)`);
}

/** Where the secret file is made when KEYGATE_SECRET_FILE is unset: beside the SQLite database. */
export function defaultSecretPath(database: string): string {
  return `${database}.secret`;
}

/** Reads a secret file: a regular file that only its owner can read, of at least `minBytes`. */
function readSecretFile(path: string, name: string, minBytes = SECRET_BYTES): Buffer {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new ConfigError(`${name} cannot be read.`);
  }
  if (!stat.isFile()) throw new ConfigError(`${name} is not a file.`);
  if ((stat.mode & 0o077) !== 0) {
    throw new ConfigError(
      `${name} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it.`,
    );
  }
  const secret = readFileSync(path);
  if (secret.length < minBytes)
    throw new ConfigError(`${name} holds ${secret.length} bytes; use at least ${minBytes} random bytes.`);
  return secret;
}

/**
 * Makes the secret file unless it exists, never overwriting one: losing it would leave every
 * sealed key unreadable. The bytes are written and flushed under a temporary name with mode 0600
 * from its creation, then linked into place, which fails if the name is taken: of several
 * processes starting at once one file wins, and no process ever reads a half-written one.
 */
function createSecretFile(path: string): void {
  try {
    statSync(path);
    return;
  } catch {
    // Not there yet: make it.
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, randomBytes(SECRET_BYTES));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temp);
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
