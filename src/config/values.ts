import { isIP } from 'node:net';

// The readers of single environment values that loadConfig builds a Config from: each refuses a
// bad value with a ConfigError that names the variable, so that a typo stops the start.

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

export function integer(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}.`);
  }
  return value;
}

/**
 * A comma list of IP addresses and CIDR ranges. Only those proxies' X-Forwarded-For is believed:
 * from anyone else the header is a client's own say-so, and the rate limits and the login
 * throttle, keyed by the client address, would be any client's to dodge or to aim at another.
 */
export function trustedProxies(raw: string | undefined): string[] {
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

export function flag(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not 1 (on) or 0 (off).`);
}

/** A guessable token would guard nothing: at least 16 characters (openssl rand -hex 16 makes 32). */
export function metricsToken(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (raw.length < 16 || /\s/.test(raw)) {
    throw new ConfigError(
      'KEYGATE_METRICS_TOKEN must be at least 16 characters with no spaces; make one with: openssl rand -hex 16',
    );
  }
  return raw;
}

/** A redis:// or rediss:// (TLS) URL; anything else is refused here rather than by the first request. */
export function redisUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!/^rediss?:\/\/[^/]/.test(raw)) {
    throw new ConfigError(
      'KEYGATE_REDIS_URL must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379.',
    );
  }
  return raw;
}
