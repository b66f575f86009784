import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { type Algorithm, HASH_BY_ALGORITHM } from '../core/algorithms.ts';
import { encodeBase64url as b64 } from '../core/base64url.ts';
import { KEY_ID_MEANING, requireText } from './required-text.ts';
import { type KeyOptionNames, signingAlgorithm } from './signing-key.ts';

export interface SignMessageOptions {
  /** The private key: a KeyObject or PEM text (PKCS#1, SEC1 or PKCS#8), RSA or P-256. */
  privateKey: KeyObject | string;
  /** The Key ID the public half was registered under; sent as the `kid` header parameter. */
  kid: string;
  /** The message. Its bytes are signed as they are; a string is signed as its UTF-8 bytes. */
  payload: Uint8Array | string;
  /** Defaults to RS256 for RSA keys and ES256 for P-256 keys. */
  alg?: Algorithm;
  /**
   * Leaves the payload out of the JWS (`header..signature`, RFC 7515 appendix F): the message
   * travels beside it, as `payload` of /v1/signatures/verify, and is not sent twice.
   */
  detached?: boolean;
}

/**
 * Signs a message as a compact JWS that /v1/signatures/verify accepts: header `{alg, kid, typ:
 * "JOSE"}` (a "JOSE" type can never pass as a key-pair token, whatever the message says), ES256
 * signatures in the raw R||S form JWS requires. Throws a TypeError for an empty `kid`, a public
 * key, a key that is neither RSA nor P-256, or an `alg` the key cannot sign (signingAlgorithm),
 * naming each option as `names` calls it (the CLI's flags).
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const jws = signMessage({
 *   privateKey: readFileSync('private.pem', 'utf8'),
 *   kid: 'KEY_ID',
 *   payload: JSON.stringify({ op: 'follow', target: 'bob' }),
 * });
 * // POST /v1/signatures/verify {"jws": jws}
 * ```
 */
export function signMessage(
  options: SignMessageOptions,
  names: KeyOptionNames & { kid?: string } = {},
): string {
  const key =
    typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  const { family, alg } = signingAlgorithm(key, options.alg, names);
  requireText(names.kid ?? 'kid', options.kid, KEY_ID_MEANING);
  const header = b64(JSON.stringify({ alg, kid: options.kid, typ: 'JOSE' }));
  const payload = b64(Buffer.from(options.payload));
  const signature = sign(
    HASH_BY_ALGORITHM[alg],
    Buffer.from(`${header}.${payload}`),
    family === 'ec-p256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
  );
  return `${header}.${options.detached ? '' : payload}.${b64(signature)}`;
}
