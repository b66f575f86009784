import { createHash } from 'node:crypto';
import { isReasonCode } from '../core/reason-codes.ts';
import { isRole, type Role } from '../core/roles.ts';
import { readAuthorization } from './authorization.ts';
import { ExpiringCache } from './identity-cache.ts';
import { type Denial, errorOfBody, reasonFromHeaders, refusalOf, unavailable } from './refusal.ts';

/** Who a request comes from, as Keygate's forward-auth answered. */
export interface KeygateIdentity {
  orgId: string;
  sub: string;
  role: Role;
  /** The key that signed the token (key-pair tokens) or Keygate's server key (sessions). */
  kid: string;
  method: 'key' | 'session';
  /** When the token expires, as an ISO 8601 time. */
  expiresAt: string;
}

export type VerifyResult = { ok: true; identity: KeygateIdentity } | Denial;

export interface VerifierOptions {
  /** Keygate's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string | URL;
  /** How long an accepted token is answered from memory; default 5000 ms. 0 turns the cache off. */
  cacheTtlMs?: number;
  /** At most this many accepted tokens are remembered; default 1000. */
  cacheEntries?: number;
  /** How long to wait for Keygate before refusing the request; default 5000 ms. */
  timeoutMs?: number;
  /** The fetch to ask Keygate with; defaults to the global one. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  clock?: () => number;
}

export interface Verifier {
  /**
   * Verifies the Authorization header of an incoming request: pass the header's value, or every
   * value when the request carried several (which is refused, as Keygate refuses it). Never
   * rejects: a Keygate that cannot be reached is a refusal with `keygate_unavailable`.
   */
  verify(authorization: string | readonly string[] | undefined): Promise<VerifyResult>;
  /** Forgets every remembered token, e.g. after revoking a key in the same process. */
  clearCache(): void;
}

const IDENTITY_HEADERS = {
  orgId: 'x-keygate-org',
  sub: 'x-keygate-sub',
  role: 'x-keygate-role',
  kid: 'x-keygate-kid',
  method: 'x-keygate-method',
  expiresAt: 'x-keygate-expires-at',
} as const;

/**
 * Verifies requests for an API behind Keygate by asking Keygate's forward-auth endpoint
 * (`GET /auth/verify`), which runs every check, revocation and logout included. Accepted tokens
 * are remembered for `cacheTtlMs` (never past the token's own expiry), keyed by the token's
 * SHA-256, at most `cacheEntries` of them, oldest first out. So a key revoked, or a session
 * logged out, may still pass here for up to `cacheTtlMs` (5 s by default); set 0 to ask Keygate
 * every time. Refusals are never remembered: a key registered a moment ago works at once.
 * Concurrent checks of one token share one call.
 *
 * Fails closed: when Keygate does not answer within `timeoutMs`, answers 5xx or anything it
 * should not, the result is `{ok: false, status: 503, code: 'keygate_unavailable'}`.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'keygate/sdk';
 *
 * const verifier = createVerifier({ url: 'http://127.0.0.1:8080' });
 * const result = await verifier.verify(request.headers.authorization);
 * if (result.ok) console.log(result.identity.orgId, result.identity.role);
 * else console.log(result.status, result.code, result.hint);
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const endpoint = new URL('auth/verify', `${String(options.url).replace(/\/+$/, '')}/`);
  const ttlMs = options.cacheTtlMs ?? 5000;
  const cache = new ExpiringCache<KeygateIdentity>(ttlMs > 0 ? (options.cacheEntries ?? 1000) : 0);
  const timeoutMs = options.timeoutMs ?? 5000;
  const send = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? Date.now;
  const pending = new Map<string, Promise<VerifyResult>>();

  const ask = async (token: string, key: string): Promise<VerifyResult> => {
    const result = await askKeygate(send, endpoint, token, timeoutMs);
    if (result.ok) {
      const now = clock();
      cache.set(key, result.identity, Math.min(now + ttlMs, Date.parse(result.identity.expiresAt)), now);
    }
    return result;
  };

  return {
    async verify(authorization) {
      const read = readAuthorization(authorization);
      if ('rejection' in read) return refusalOf(read.rejection);
      const key = createHash('sha256').update(read.token).digest('base64url');
      const identity = cache.get(key, clock());
      if (identity !== undefined) return { ok: true, identity };
      const inFlight = pending.get(key);
      if (inFlight !== undefined) return inFlight;
      const asked = ask(read.token, key).finally(() => pending.delete(key));
      pending.set(key, asked);
      return asked;
    },
    clearCache() {
      cache.clear();
    },
  };
}

async function askKeygate(
  send: typeof fetch,
  endpoint: URL,
  token: string,
  timeoutMs: number,
): Promise<VerifyResult> {
  let response: Response;
  let text: string;
  try {
    response = await send(endpoint, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    text = await response.text();
  } catch (error) {
    const why =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer in ${timeoutMs} ms`
        : 'unreachable';
    return unavailable(`Keygate at ${endpoint.origin} is ${why}.`);
  }
  if (response.status === 200) return identityOf(response.headers, endpoint);
  if (response.status === 401) {
    const error = errorOfBody(text);
    const code = reasonFromHeaders(response.headers) ?? (isReasonCode(error.code) ? error.code : undefined);
    if (code === undefined) return unavailable('Keygate answered 401 without a reason code.');
    return {
      ok: false,
      status: 401,
      code,
      message: error.message ?? 'Keygate refused the token.',
      hint: error.hint ?? 'Ask Keygate at /auth/hello which check the token fails.',
    };
  }
  return unavailable(`Keygate at ${endpoint.origin} answered ${response.status} to /auth/verify.`);
}

/** The identity of a 200; one without every identity header is no decision at all. */
function identityOf(headers: Headers, endpoint: URL): VerifyResult {
  const read = (name: string) => headers.get(name) ?? '';
  // Keygate percent-encodes every character but visible ASCII other than "%" (a sub may be any
  // string), so decoding gives back the exact value.
  const decoded = (name: string) => {
    try {
      return decodeURIComponent(read(name));
    } catch {
      return '';
    }
  };
  const identity = {
    orgId: decoded(IDENTITY_HEADERS.orgId),
    sub: decoded(IDENTITY_HEADERS.sub),
    role: read(IDENTITY_HEADERS.role),
    kid: decoded(IDENTITY_HEADERS.kid),
    method: read(IDENTITY_HEADERS.method),
    expiresAt: read(IDENTITY_HEADERS.expiresAt),
  };
  const complete =
    identity.orgId !== '' &&
    identity.sub !== '' &&
    identity.kid !== '' &&
    isRole(identity.role) &&
    (identity.method === 'key' || identity.method === 'session') &&
    !Number.isNaN(Date.parse(identity.expiresAt));
  if (!complete) {
    return unavailable(`Keygate at ${endpoint.origin} answered 200 without the X-Keygate identity headers.`);
  }
  return { ok: true, identity: identity as KeygateIdentity };
}
