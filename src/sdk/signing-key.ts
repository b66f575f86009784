import type { KeyObject } from 'node:crypto';
import {
  ALGORITHMS_BY_FAMILY,
  type Algorithm,
  isAcceptedAlgorithm,
  type KeyFamily,
} from '../core/algorithms.ts';

/** What a caller calls the two options in its messages: `--key` and `--alg` on the command line. */
export interface KeyOptionNames {
  privateKey?: string;
  alg?: string;
}

/**
 * The key's family and the algorithm it signs with (`alg`, or the family's default), or a
 * TypeError naming the option to change. Signed anyway, a token or message for the wrong
 * algorithm would be refused by every Keygate, far from the mistake: an RSA signature under an
 * ES256 header, say. signToken and signMessage both sign through it.
 */
export function signingAlgorithm(
  key: KeyObject,
  alg: string | undefined,
  names: KeyOptionNames = {},
): { family: KeyFamily; alg: Algorithm } {
  const keyName = names.privateKey ?? 'privateKey';
  const algName = names.alg ?? 'alg';
  if (key.type !== 'private') throw new TypeError(`${keyName} is a public key; sign with the private key.`);
  const family = familyOf(key);
  if (family === undefined) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new TypeError(
      `${keyName} is ${key.asymmetricKeyType}${curve ? ` (${curve})` : ''}; Keygate verifies RSA (2048-4096 bits) and P-256 keys.`,
    );
  }
  const allowed = ALGORITHMS_BY_FAMILY[family];
  const chosen = alg ?? (allowed[0] as Algorithm);
  if (!isAcceptedAlgorithm(chosen)) {
    throw new TypeError(`${algName} ${JSON.stringify(chosen)} is not RS256, RS384 or ES256.`);
  }
  if (!allowed.includes(chosen)) {
    throw new TypeError(
      `${algName} ${chosen} needs ${chosen === 'ES256' ? 'a P-256' : 'an RSA'} key; this key is ${family === 'rsa' ? 'RSA' : 'P-256'} (use ${allowed.join(' or ')}).`,
    );
  }
  return { family, alg: chosen };
}

function familyOf(key: KeyObject): KeyFamily | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return 'ec-p256';
  return undefined;
}
