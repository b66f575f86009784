import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import type { Algorithm } from '../core/algorithms.ts';
import { encodeBase64url as b64 } from '../core/base64url.ts';
import { KEY_ID_MEANING, requireText, shown } from './required-text.ts';
import { type KeyOptionNames, signingAlgorithm } from './signing-key.ts';

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
export function signToken(options: SignTokenOptions, names: SigningOptionNames = {}): string {
  const key =
    typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  const alg = checkSigningOptions(options, key, names);
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

/** What a caller calls each option in its messages (createSigner's keyId, the CLI's --kid). */
export type SigningOptionNames = KeyOptionNames &
  Partial<Record<'orgId' | 'kid' | 'sub' | 'aud' | 'ttlSeconds', string>>;

/**
 * The algorithm `options` sign with, once every claim Keygate needs is there: otherwise a
 * TypeError that names the option (as `names` calls it) and what it must be. createSigner checks
 * its options with it when it is created, the CLI before it signs, signToken on every call.
 */
export function checkSigningOptions(
  options: SignTokenOptions,
  key: KeyObject,
  names: SigningOptionNames = {},
): Algorithm {
  const { alg } = signingAlgorithm(key, options.alg, names);
  const name = (option: keyof SigningOptionNames) => names[option] ?? option;
  for (const option of ['orgId', 'kid', 'sub'] as const)
    requireText(name(option), options[option], CLAIM_HELP[option]);
  const audiences: unknown[] = Array.isArray(options.aud) ? options.aud : [options.aud];
  if (audiences.length === 0 || audiences.some((aud) => typeof aud !== 'string' || aud.trim() === '')) {
    throw new TypeError(
      `${name('aud')} must be the API's audience (one of the audiences Keygate is configured with), or a list of them; it is ${shown(options.aud)}.`,
    );
  }
  const ttl = options.ttlSeconds;
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl <= 0)) {
    throw new TypeError(
      `${name('ttlSeconds')} must be a positive whole number of seconds; it is ${shown(ttl)}.`,
    );
  }
  return alg;
}

const CLAIM_HELP = {
  orgId: 'the Organization ID, sent as iss',
  kid: KEY_ID_MEANING,
  sub: 'the user the token speaks for',
} as const;
