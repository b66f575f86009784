import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto';
import type { Algorithm } from '../core/algorithms.ts';
import type { ReasonCode } from '../core/reason-codes.ts';
import { errorOfBody, reasonFromHeaders } from './refusal.ts';
import { checkSigningOptions, type SignTokenOptions, signToken } from './sign-token.ts';

export interface SignerOptions {
  /** The private key: a KeyObject or PEM text (PKCS#1, SEC1 or PKCS#8), RSA or P-256. */
  privateKey: KeyObject | string;
  /** The Organization ID, sent as `iss`. */
  orgId: string;
  /** The Key ID the public half was registered under, sent as the `kid` claim. */
  keyId: string;
  /** The API's audience, sent as `aud`: one of the audiences Keygate is configured with. */
  audience: string | string[];
  sub: string;
  role?: string;
  /** Defaults to RS256 for RSA keys and ES256 for P-256 keys. */
  alg?: Algorithm;
  /** Lifetime of each token; Keygate accepts at most its KEYGATE_MAX_TOKEN_LIFETIME_SECONDS (3600). */
  ttlSeconds?: number;
  /** Milliseconds since the epoch; defaults to `Date.now`. Tests pass a clock they control. */
  clock?: () => number;
  /** The fetch `signer.fetch` sends with; defaults to the global one. */
  fetch?: typeof fetch;
}

export interface Signer {
  /** The current token: reused until its refresh margin, then signed anew with a fresh jti. */
  getToken(): string;
  /**
   * Learns the server's clock from a `Date` response header and the local time (ms) the
   * response arrived. Returns the offset now in use, in milliseconds (server minus local).
   */
  observeServerDate(dateHeader: string | null | undefined, localTimeAtResponse: number): number;
  /** The offset in use, in milliseconds: 0 until a response showed the clocks differ by over 2 s. */
  readonly clockOffsetMs: number;
  /** `fetch` with `Authorization: Bearer <token>`; see {@link createSigner} for its one retry. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
}

/**
 * Refusals that a token signed with a corrected clock (or simply a fresh one) can cure: the
 * ones `signer.fetch` retries.
 *
 * @example
 * ```ts
 * SKEW_REASONS.has('iat_in_future'); // true
 * SKEW_REASONS.has('kid_unknown');   // false: a new token would be refused the same way
 * ```
 */
export const SKEW_REASONS: ReadonlySet<ReasonCode> = new Set([
  'iat_in_future',
  'token_expired',
  'token_not_yet_valid',
]);

/**
 * A `Date` header has whole seconds and the response spent time in flight, so a difference
 * this small is noise; Keygate's leeway (60 s by default) absorbs it anyway.
 *
 * @example
 * ```ts
 * signer.observeServerDate(response.headers.get('date'), Date.now()); // 0 unless beyond SKEW_THRESHOLD_MS
 * ```
 */
export const SKEW_THRESHOLD_MS = 2000;

/**
 * Seconds before `exp` at which a token is replaced: a tenth of its life, at least 60 s (at most half).
 *
 * @example
 * ```ts
 * refreshMarginSeconds(3600); // 360
 * refreshMarginSeconds(300);  // 60
 * refreshMarginSeconds(60);   // 30
 * ```
 */
export function refreshMarginSeconds(ttlSeconds: number): number {
  return Math.max(ttlSeconds / 10, Math.min(60, ttlSeconds / 2));
}

/**
 * A client's signer for key-pair tokens. `getToken()` signs a token (a fresh `jti` each time)
 * and reuses it until less than its refresh margin of life remains: a tenth of `ttlSeconds`
 * (default 3600, so 6 minutes), but at least 60 s, or half the lifetime for tokens under two
 * minutes. Reuse is what Keygate expects: a token may be sent until it expires, and each new
 * `jti` costs the server a ledger entry.
 *
 * Clock skew: `iat` and `exp` come from the local clock plus an offset learnt from the `Date`
 * header of Keygate's (or the API's) responses, applied only when the clocks differ by more
 * than 2 s. A change of offset discards the current token. Responses carrying `Age` came from
 * a cache, whose `Date` is old, and are not used.
 *
 * `signer.fetch(input, init)` sends the token as `Authorization: Bearer <token>`, observes the
 * `Date` of every response, and when the answer is a 401 for `iat_in_future`, `token_expired`
 * or `token_not_yet_valid` (read from `X-Keygate-Reason`, `WWW-Authenticate` or the JSON body),
 * sends the request once more with a newly signed token. No other 401 is retried. A body that
 * is a stream (a ReadableStream, or a Request that carries a body) cannot be sent twice, so
 * such a request is never retried: its 401 is returned as it is.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { createSigner } from 'keygate/sdk';
 *
 * const signer = createSigner({
 *   privateKey: readFileSync('my.key', 'utf8'),
 *   orgId: 'ORG_ID', keyId: 'KEY_ID', audience: 'api.happypathology.com', sub: 'alice',
 * });
 * const response = await signer.fetch('http://127.0.0.1:8080/v1/whoami');
 * console.log((await response.json()).results.org_id);
 * ```
 */
export function createSigner(options: SignerOptions): Signer {
  const key =
    typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  const ttlSeconds = options.ttlSeconds ?? 3600;
  // The same options sign every token, with a new `now` and `jti`. Checked once here, in this
  // function's own option names, so a misconfigured client fails when it starts rather than at
  // its first request.
  const signing: SignTokenOptions = {
    privateKey: key,
    orgId: options.orgId,
    kid: options.keyId,
    sub: options.sub,
    aud: options.audience,
    ttlSeconds,
    ...(options.role !== undefined && { role: options.role }),
    ...(options.alg !== undefined && { alg: options.alg }),
  };
  checkSigningOptions(signing, key, { kid: 'keyId', aud: 'audience' });
  const margin = refreshMarginSeconds(ttlSeconds);
  const clock = options.clock ?? Date.now;
  const send = options.fetch ?? globalThis.fetch;
  let offsetMs = 0;
  let current: { token: string; exp: number } | undefined;

  const sign = (): string => {
    const now = Math.floor((clock() + offsetMs) / 1000);
    const token = signToken({ ...signing, now, jti: randomUUID() });
    current = { token, exp: now + ttlSeconds };
    return token;
  };

  const signer: Signer = {
    getToken() {
      const now = (clock() + offsetMs) / 1000;
      return current && current.exp - now > margin ? current.token : sign();
    },
    observeServerDate(dateHeader, localTimeAtResponse) {
      const serverMs = dateHeader ? Date.parse(dateHeader) : Number.NaN;
      if (Number.isNaN(serverMs)) return offsetMs;
      // The header's second was truncated: the server's time lay somewhere in that second.
      const difference = serverMs + 500 - localTimeAtResponse;
      const next = Math.abs(difference) > SKEW_THRESHOLD_MS ? Math.round(difference) : 0;
      // Small moves are the same noise: keeping the offset keeps the token it signed.
      if (Math.abs(next - offsetMs) > SKEW_THRESHOLD_MS) {
        offsetMs = next;
        current = undefined;
      }
      return offsetMs;
    },
    get clockOffsetMs() {
      return offsetMs;
    },
    fetch(input, init = {}) {
      const renew = () => {
        current = undefined;
        return signer.getToken();
      };
      return fetchSigned({ signer, send, clock, renew }, input, init);
    },
  };
  return signer;
}

interface FetchContext {
  signer: Signer;
  send: typeof fetch;
  clock: () => number;
  /** Discards the current token and signs a new one. */
  renew: () => string;
}

async function fetchSigned(
  { signer, send, clock, renew }: FetchContext,
  input: string | URL | Request,
  init: RequestInit,
): Promise<Response> {
  const attempt = async (token: string): Promise<Response> => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `Bearer ${token}`);
    const response = await send(input, { ...init, headers });
    // A response from a cache carries the Date of when it was made, not the server's time now.
    if (!response.headers.has('age')) signer.observeServerDate(response.headers.get('date'), clock());
    return response;
  };
  const first = await attempt(signer.getToken());
  if (first.status !== 401 || !isReplayable(input, init)) return first;
  const reason = await reasonOf(first);
  if (reason === undefined || !SKEW_REASONS.has(reason)) return first;
  await first.body?.cancel();
  return attempt(renew());
}

/** Whether the request's body can be sent a second time. */
function isReplayable(input: string | URL | Request, init: RequestInit): boolean {
  const body = init.body;
  if (body === undefined || body === null) return !(input instanceof Request) || input.body === null;
  return (
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof FormData
  );
}

/** The reason code of a 401: from its headers, else from its JSON body (read from a clone). */
async function reasonOf(response: Response): Promise<ReasonCode | undefined> {
  const fromHeaders = reasonFromHeaders(response.headers);
  if (fromHeaders !== undefined && fromHeaders !== 'token_missing') return fromHeaders;
  const code = errorOfBody(await response.clone().text()).code;
  return code !== undefined && SKEW_REASONS.has(code as ReasonCode) ? (code as ReasonCode) : fromHeaders;
}
