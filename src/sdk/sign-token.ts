import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import {
  ALGORITHMS_BY_FAMILY,
  type Algorithm,
  isAcceptedAlgorithm,
  type KeyFamily,
} from '../core/algorithms.ts';
import { encodeBase64url as b64 } from '../core/base64url.ts';
import { requireText, shown } from './required-text.ts';

export interface SignTokenOptions {
  /** The private key: a KeyObject or PEM text (PKCS#1, SEC1 or PKCS#8). */
  privateKey: KeyObject | string;
  /** The Organization ID, sent as `iss`. */
  orgId: string;
  /** The Key ID, sent as the `kid` claim (or header parameter with `kidIn: 'header'`). */
  kid: string;
  sub: string;
  aud: string | string[];
  role?: string;
  /** Seconds from now until `exp`; at most 3600 is accepted by Keygate. Default 3600. */
  ttlSeconds?: number;
  /** Defaults to RS256 for RSA keys and ES256 for P-256 keys. */
  alg?: Algorithm;
  kidIn?: 'payload' | 'header';
  /** Seconds since the epoch; defaults to the local clock. */
  now?: number;
  /** Defaults to a nanosecond timestamp, as the spec's examples use. */
  jti?: string;
}

/**
 * Signs a key-pair token exactly as spec 001 describes: aud, exp, iat, iss, jti, sub and kid.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const token = signToken({
 *   privateKey: readFileSync('my.key', 'utf8'),
 *   orgId: 'ORG_ID', kid: 'KEY_ID', sub: 'alice', aud: 'api.happypathology.com', role: 'user',
 * });
 * ```
 */
export function signToken(options: SignTokenOptions): string {
  const key =
    typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  const alg = checkSigningOptions(options, key);
  const isEc = alg === 'ES256';
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const header: Record<string, string> = { alg, typ: 'JWT' };
  const payload: Record<string, unknown> = {
    aud: options.aud,
    exp: now + (options.ttlSeconds ?? 3600),
    iat: now,
    iss: options.orgId,
    jti: options.jti ?? process.hrtime.bigint().toString(),
    sub: options.sub,
  };
  if (options.role !== undefined) payload.role = options.role;
  if (options.kidIn === 'header') header.kid = options.kid;
  else payload.kid = options.kid;
  const signingInput = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  const hash = alg === 'RS384' ? 'sha384' : 'sha256';
  const signature = sign(hash, Buffer.from(signingInput), isEc ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/**
 * The algorithm `options` sign with, once every claim Keygate needs is there: otherwise a
 * TypeError that names the option and what it must be. createSigner checks its options with it
 * when it is created, signToken on every call.
 */
export function checkSigningOptions(options: SignTokenOptions, key: KeyObject): Algorithm {
  const alg = checkedAlgorithm(options, key);
  checkClaims(options);
  return alg;
}

/**
 * The key's family and the algorithm it signs with, or a TypeError naming what is wrong. Signed
 * anyway, a token for the wrong algorithm would be refused by every Keygate, far from the
 * mistake: an RSA signature under an ES256 header, say.
 */
function checkedAlgorithm(options: SignTokenOptions, key: KeyObject): Algorithm {
  if (key.type !== 'private') throw new TypeError('privateKey is a public key; sign with the private key.');
  const family = familyOf(key);
  if (family === undefined) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new TypeError(
      `privateKey is ${key.asymmetricKeyType}${curve ? ` (${curve})` : ''}; Keygate verifies RSA (2048-4096 bits) and P-256 keys.`,
    );
  }
  const allowed = ALGORITHMS_BY_FAMILY[family];
  const alg = options.alg ?? (allowed[0] as Algorithm);
  if (!isAcceptedAlgorithm(alg)) {
    throw new TypeError(`alg ${JSON.stringify(alg)} is not RS256, RS384 or ES256.`);
  }
  if (!allowed.includes(alg)) {
    throw new TypeError(
      `alg ${alg} needs ${alg === 'ES256' ? 'a P-256' : 'an RSA'} key; this key is ${family === 'rsa' ? 'RSA' : 'P-256'} (use ${allowed.join(' or ')}).`,
    );
  }
  return alg;
}

function familyOf(key: KeyObject): KeyFamily | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return 'ec-p256';
  return undefined;
}

const CLAIM_HELP = {
  orgId: 'the Organization ID, sent as iss',
  kid: 'the Key ID the public key was registered under',
  sub: 'the user the token speaks for',
} as const;

/** The claims every Keygate needs, or a TypeError naming the one missing. */
function checkClaims(options: SignTokenOptions): void {
  for (const name of ['orgId', 'kid', 'sub'] as const) requireText(name, options[name], CLAIM_HELP[name]);
  const audiences: unknown[] = Array.isArray(options.aud) ? options.aud : [options.aud];
  if (audiences.length === 0 || audiences.some((aud) => typeof aud !== 'string' || aud.trim() === '')) {
    throw new TypeError(
      `aud must be the API's audience (one of the audiences Keygate is configured with), or a list of them; it is ${shown(options.aud)}.`,
    );
  }
  const ttl = options.ttlSeconds;
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl <= 0)) {
    throw new TypeError(`ttlSeconds must be a positive whole number of seconds; it is ${shown(ttl)}.`);
  }
}
