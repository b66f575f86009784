import { type KeyObject, sign } from 'node:crypto';

/**
 * Signs `message` under exactly this header, so tests control every byte: any `alg` (signed with
 * the key's own scheme, SHA-384 for RS384; none is unsigned), an ES256 signature raw or DER, the
 * payload in the JWS or left out (RFC 7515 appendix F).
 */
export function signMessageRaw(
  header: Record<string, unknown>,
  message: string,
  key: KeyObject,
  options: { detached?: boolean; der?: boolean } = {},
): string {
  const headerSegment = Buffer.from(JSON.stringify(header)).toString('base64url');
  const payloadSegment = Buffer.from(message).toString('base64url');
  const input = Buffer.from(`${headerSegment}.${payloadSegment}`);
  const hash = header.alg === 'RS384' ? 'sha384' : 'sha256';
  const signature =
    header.alg === 'none'
      ? Buffer.alloc(0)
      : key.asymmetricKeyType === 'ec'
        ? sign(hash, input, { key, dsaEncoding: options.der ? 'der' : 'ieee-p1363' })
        : sign(hash, input, key);
  return `${headerSegment}.${options.detached ? '' : payloadSegment}.${signature.toString('base64url')}`;
}
