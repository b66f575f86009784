// Visible ASCII but "%": what passes into a header value unchanged. Everything else is encoded:
// CR and LF would end the header (response splitting), other controls and non-ASCII are refused
// or mangled by Node and by proxies, a leading or trailing space is trimmed by the reader, and
// "%" is encoded so that decoding is exact.
const VERBATIM = /^[\x21-\x24\x26-\x7e]*$/;
const ENCODED = /[^\x21-\x24\x26-\x7e]/gu;

function percentEncode(character: string): string {
  let out = '';
  // Buffer.from writes a lone surrogate as U+FFFD instead of throwing, as encodeURIComponent would.
  for (const byte of Buffer.from(character, 'utf8'))
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * A string as an HTTP header value that no input can break: unchanged when it is made only of
 * visible ASCII other than `%` (org ids, kids, roles, times and most subjects), otherwise with each
 * other character percent-encoded as UTF-8, so `decodeURIComponent` gives back the exact string.
 *
 * @example
 * headerValue('alice@example.com'); // 'alice@example.com'
 * headerValue('josé 50%\r\n');      // 'jos%C3%A9%2050%25%0D%0A'
 */
export function headerValue(value: string): string {
  return VERBATIM.test(value) ? value : value.replace(ENCODED, percentEncode);
}
