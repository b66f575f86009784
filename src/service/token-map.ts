import type { BearerText } from './bearer-text.ts';
import { BoundedMap } from './bounded-map.ts';

interface Held<V> {
  value: V;
  fingerprint: number;
}

/**
 * Values kept per bearer token, keyed by the token's SHA-256 in a BoundedMap (at most
 * `maxEntries`, the oldest out first). Beside the keys it counts the fingerprints of the tokens
 * it holds, so that `get` answers a token whose fingerprint it has never counted without the
 * token's hash: a flood of tokens never seen before (made-up kids, forgeries, fresh tokens
 * refused on their claims) costs no SHA-256 each. Another token with a held token's fingerprint
 * costs what every token cost before: its hash and a lookup.
 */
export class TokenMap<V> {
  private readonly entries: BoundedMap<string, Held<V>>;
  /** How many held tokens have each fingerprint; a fingerprint none has is not a key. */
  private readonly fingerprints = new Map<number, number>();

  constructor(maxEntries: number) {
    this.entries = new BoundedMap(maxEntries);
  }

  get(token: BearerText): V | undefined {
    if (!this.fingerprints.has(token.fingerprint)) return undefined;
    return this.entries.get(token.hash)?.value;
  }

  set(token: BearerText, value: V): void {
    const held = this.entries.get(token.hash);
    if (held) {
      held.value = value;
      return;
    }
    const evicted = this.entries.set(token.hash, { value, fingerprint: token.fingerprint });
    if (evicted) this.uncount(evicted.fingerprint);
    this.fingerprints.set(token.fingerprint, (this.fingerprints.get(token.fingerprint) ?? 0) + 1);
  }

  delete(token: BearerText): void {
    const held = this.entries.delete(token.hash);
    if (held) this.uncount(held.fingerprint);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.fingerprints.clear();
  }

  private uncount(fingerprint: number): void {
    const count = (this.fingerprints.get(fingerprint) ?? 1) - 1;
    if (count === 0) this.fingerprints.delete(fingerprint);
    else this.fingerprints.set(fingerprint, count);
  }
}
