/**
 * The layout of a row of jti_recent (migration 12): a commit's bindings end to end in one blob,
 * each a pair's 16 bytes, its token's 16 and its expiry as a float64. See sqlite-jti.ts.
 */

/** A binding's bytes in a row of jti_recent: the pair's 16, the token's 16, its expiry as a float64. */
export const JTI_ENTRY_BYTES = 40;
const TOKEN_AT = 16;
const EXPIRES_AT = 32;

/** A binding as a lookup finds it: its token's 16 bytes and when it expires. */
export interface Held {
  token: Uint8Array;
  expiresAt: number;
}

/** The bytes node:sqlite hands back, as a Buffer over the same memory. */
export function bytesOf(value: unknown): Buffer {
  const bytes = value as Uint8Array;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One binding in the layout of jti_recent's entries (migration 12 writes the older rows with it). */
export function jtiEntry(pair: Uint8Array, token: Uint8Array, expiresAt: number): Buffer {
  const entry = Buffer.allocUnsafe(JTI_ENTRY_BYTES);
  putEntry(entry, 0, pair, token, expiresAt);
  return entry;
}

export function putEntry(
  entries: Buffer,
  slot: number,
  pair: Uint8Array,
  token: Uint8Array,
  expiresAt: number,
): void {
  const at = slot * JTI_ENTRY_BYTES;
  entries.set(pair, at);
  entries.set(token, at + TOKEN_AT);
  entries.writeDoubleBE(expiresAt, at + EXPIRES_AT);
}

/** The binding of `pair` in a row's entries, if the row holds one. */
export function entryOf(entries: Buffer, pair: Uint8Array): Held | undefined {
  // A native search, then only a match at an entry's start counts: one in the middle of two
  // fields is no binding.
  for (let at = entries.indexOf(pair); at >= 0; at = entries.indexOf(pair, at + 1)) {
    if (at % JTI_ENTRY_BYTES === 0) return entryAt(entries, at);
  }
  return undefined;
}

export function entryAt(entries: Buffer, at: number): Held {
  return {
    token: entries.subarray(at + TOKEN_AT, at + EXPIRES_AT),
    expiresAt: entries.readDoubleBE(at + EXPIRES_AT),
  };
}

/**
 * A pair's 16 bytes as the memory's key, a latin1 string, one character a byte: its own string,
 * not a slice of a longer one, which would keep the whole of it alive (measured when the memory
 * kept two digests a binding: 263 bytes a binding against 167).
 */
export function pairKey(bytes: Buffer, at = 0): string {
  return bytes.toString('latin1', at, at + 16);
}

/** The pairs of a row's entries, slot by slot. */
export function pairsOf(entries: Buffer): string[] {
  const pairs: string[] = [];
  for (let at = 0; at < entries.length; at += JTI_ENTRY_BYTES) pairs.push(pairKey(entries, at));
  return pairs;
}
