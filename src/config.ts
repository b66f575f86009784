import { readFileSync, statSync } from 'node:fs';
import type { VerificationPolicy } from './core/policy.ts';
import { DEFAULT_POLICY } from './core/policy.ts';
import { DEFAULT_SESSION_POLICY, type SessionPolicy } from './core/session-policy.ts';

/** Everything a deployment can set, from the environment; CLI flags of the same name win. */
export interface Config {
  port: number;
  host: string;
  database: string;
  redisUrl: string | undefined;
  policy: VerificationPolicy;
  session: SessionPolicy;
  /** KEYGATE_PEPPER_FILE: a secret mixed into every password hash; the path, never the bytes, is in the environment. */
  pepperFile: string | undefined;
  /** Login attempts per client address per minute. */
  loginRateLimit: number;
  /** How long a request waits for a store another process has locked before answering 503. */
  storeLockWaitMs: number;
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
    redisUrl: env.KEYGATE_REDIS_URL || undefined,
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
    loginRateLimit: integer('KEYGATE_LOGIN_RATE_LIMIT', env.KEYGATE_LOGIN_RATE_LIMIT, 20, 1, 100000),
    storeLockWaitMs: integer('KEYGATE_STORE_LOCK_WAIT_MS', env.KEYGATE_STORE_LOCK_WAIT_MS, 3000, 0, 60000),
  };
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
  if (!path) return undefined;
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new ConfigError(`KEYGATE_PEPPER_FILE=${path} cannot be read.`);
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new ConfigError(`KEYGATE_PEPPER_FILE=${path} is readable by others; chmod 600 it.`);
  }
  const pepper = readFileSync(path);
  if (pepper.length < 16)
    throw new ConfigError(
      `KEYGATE_PEPPER_FILE=${path} holds ${pepper.length} bytes; use at least 16 random bytes.`,
    );
  return pepper;
}
