const BASE64URL_ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes base64url as RFC 7515 requires and nothing looser: no padding, no whitespace, no
 * standard-alphabet characters, and no non-zero trailing bits. Two spellings of the same bytes
 * would let one token hash to two cache keys and hide tampering from people reading logs.
 */
export function decodeBase64url(text: string): Buffer | undefined {
  if (text.length % 4 === 1 || !BASE64URL_ALPHABET.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) return undefined;
  return bytes;
}

export function encodeBase64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}
