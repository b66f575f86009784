import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SESSION_TYP, type SessionClaims, sessionKid, verifySessionToken } from '../core/session-token.ts';
import { parseCompactJws } from '../core/token-format.ts';
import { readAuthorization } from './authorization.ts';
import { type Denial, refusalOf, unavailable } from './refusal.ts';

export type { SessionClaims } from '../core/session-token.ts';

/** The document Keygate serves at `/.well-known/jwks.json`: its session-signing public keys. */
export interface Jwks {
  keys: readonly (JsonWebKey & { kid?: string; alg?: string })[];
}

export type LocalVerifyResult = { ok: true; claims: SessionClaims } | Denial;

interface CommonOptions {
  /** The audience session tokens must carry (Keygate's first KEYGATE_AUDIENCES entry); unchecked when absent. */
  audience?: string;
  /** Seconds of clock difference tolerated on `exp`, `iat` and `nbf`; default 60, as Keygate's. */
  leewaySeconds?: number;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  clock?: () => number;
}

export type LocalSessionVerifierOptions = CommonOptions &
  (
    | { keys: Jwks }
    | {
        /** Keygate's `/.well-known/jwks.json`, fetched on first use. */
        jwksUrl: string | URL;
        /** Fetch the keys again after this long; default 300000 ms (Keygate's Cache-Control). */
        refreshMs?: number;
        fetch?: typeof fetch;
      }
  );

export interface LocalSessionVerifier {
  /** Verifies a session token from an Authorization header value (`Bearer <jwt>` or the bare JWT). */
  verify(authorization: string | readonly string[] | undefined): Promise<LocalVerifyResult>;
}

/** An unknown kid fetches the keys again (a rotation), but no more often than this. */
const MIN_REFETCH_MS = 30_000;

/**
 * Verifies Keygate session tokens in process, with no call to Keygate: the ES256 signature
 * against Keygate's published keys (the algorithm comes from the key, never from the token),
 * then issuer, type, `exp`, `iat`, `nbf`, role and session claims, by the same rules Keygate
 * applies.
 *
 * It cannot see revocation: a session that was logged out, a user who was disabled or whose
 * role changed still passes here until the token's `exp`. It proves only that Keygate signed the
 * token and that it is within its lifetime. Where that matters, ask Keygate
 * ({@link createVerifier}), which is authoritative.
 *
 * @example
 * ```ts
 * import { createLocalSessionVerifier } from 'keygate/sdk';
 *
 * const sessions = createLocalSessionVerifier({ jwksUrl: 'http://127.0.0.1:8080/.well-known/jwks.json' });
 * const result = await sessions.verify(request.headers.authorization);
 * if (result.ok) console.log(result.claims.orgId, result.claims.sub, result.claims.exp);
 * ```
 */
export function createLocalSessionVerifier(options: LocalSessionVerifierOptions): LocalSessionVerifier {
  const clock = options.clock ?? Date.now;
  const leewaySeconds = options.leewaySeconds ?? 60;
  const source = 'keys' in options ? undefined : options;
  const keys = 'keys' in options ? fixedKeys(keysOf(options.keys)) : fetchedKeys(options, clock);

  return {
    async verify(authorization) {
      const read = readAuthorization(authorization);
      if ('rejection' in read) return refusalOf(read.rejection);
      const parsed = parseCompactJws(read.token);
      if (!parsed.ok) return refusalOf(parsed.rejection);
      const { jws } = parsed;
      if (jws.header.typ !== SESSION_TYP) {
        return refusalOf({
          code: 'token_malformed',
          message: `Not a Keygate session token (typ is not "${SESSION_TYP}").`,
          hint: 'Key-pair tokens are verified by Keygate itself: use createVerifier.',
        });
      }
      const kid = sessionKid(jws);
      const keyObject = kid === undefined ? undefined : await keys.keyFor(kid);
      if (kid !== undefined && keyObject === undefined && keys.none() && source !== undefined) {
        return unavailable(`No session keys could be read from ${String(source.jwksUrl)}.`);
      }
      const aud = jws.payload.aud;
      const verified = verifySessionToken(jws, {
        key: keyObject && { keyObject, signatureBytes: 64 },
        policy: {
          // Without a configured audience, the token's own is taken: the audience is not checked.
          audiences:
            options.audience !== undefined ? [options.audience] : typeof aud === 'string' ? [aud] : [],
          leewaySeconds,
          maxLifetimeSeconds: Number.MAX_SAFE_INTEGER,
        },
        now: Math.floor(clock() / 1000),
      });
      return verified.ok ? { ok: true, claims: verified.claims } : refusalOf(verified.rejection);
    },
  };
}

interface KeySource {
  keyFor(kid: string): Promise<KeyObject | undefined>;
  /** Whether no key is known at all (the JWKS could never be read). */
  none(): boolean;
}

function fixedKeys(keys: ReadonlyMap<string, KeyObject>): KeySource {
  return { keyFor: async (kid) => keys.get(kid), none: () => keys.size === 0 };
}

/** Keys from a JWKS URL: fetched on first use, after `refreshMs`, and for an unknown kid at most every 30 s. */
function fetchedKeys(
  source: { jwksUrl: string | URL; refreshMs?: number; fetch?: typeof fetch },
  clock: () => number,
): KeySource {
  let keys = new Map<string, KeyObject>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let fetching: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    fetching ??= (async () => {
      fetchedAt = clock();
      const send = source.fetch ?? globalThis.fetch;
      const response = await send(source.jwksUrl, { signal: AbortSignal.timeout(5000), redirect: 'error' });
      if (!response.ok) throw new Error(`${response.status}`);
      keys = keysOf((await response.json()) as Jwks);
    })()
      // A failed fetch keeps the keys already known; the next interval tries again.
      .catch(() => {})
      .finally(() => {
        fetching = undefined;
      });
    return fetching;
  };
  return {
    async keyFor(kid) {
      const age = clock() - fetchedAt;
      if (age >= (source.refreshMs ?? 300_000) || (!keys.has(kid) && age >= MIN_REFETCH_MS)) await refresh();
      return keys.get(kid);
    },
    none: () => keys.size === 0,
  };
}

/** The P-256 signing keys of a JWKS by kid; any other key is left out, so it can never verify. */
function keysOf(jwks: Jwks): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const jwk of Array.isArray(jwks?.keys) ? jwks.keys : []) {
    const usable =
      typeof jwk.kid === 'string' &&
      jwk.kty === 'EC' &&
      jwk.crv === 'P-256' &&
      (jwk.alg === undefined || jwk.alg === 'ES256') &&
      (jwk.use === undefined || jwk.use === 'sig') &&
      jwk.d === undefined;
    if (!usable) continue;
    try {
      keys.set(
        jwk.kid as string,
        createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }),
      );
    } catch {
      // A key that does not parse is skipped; tokens it signed fail as kid_unknown.
    }
  }
  return keys;
}
