const BASE64URL_ALPHABET = /^[A-Za-z0-9_-]*$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decodes base64url as RFC 7515 requires and nothing looser: no padding, no whitespace, no
 * standard-alphabet characters, and no non-zero trailing bits. Two spellings of the same bytes
 * would let one token hash to two cache keys and hide tampering from people reading logs.
 */
export function decodeBase64url(text: string): Buffer | undefined {
  const tail = text.length % 4;
  if (tail === 1 || !BASE64URL_ALPHABET.test(text)) return undefined;
  // The last character of a 2- or 3-character tail carries 4 or 2 unused bits; they must be zero.
  if (tail !== 0) {
    const last = ALPHABET.indexOf(text[text.length - 1] as string);
    if ((last & (tail === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  return Buffer.from(text, 'base64url');
}

export function encodeBase64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}
