import type { BearerText } from './bearer-text.ts';

/**
 * Values kept per bearer token, keyed by the token's SHA-256 and holding at most `maxEntries`
 * (when full, the oldest insertion goes first). Beside the keys it counts the fingerprints of the
 * tokens it holds, so that `get` answers a token whose fingerprint it has never counted without
 * the token's hash: a flood of tokens never seen before (made-up kids, forgeries, fresh tokens
 * refused on their claims) costs no SHA-256 each. Another token with a held token's fingerprint
 * costs what every token cost before: its hash and a lookup.
 */
export class TokenMap<V> {
  private readonly entries = new Map<string, { value: V; fingerprint: number }>();
  /** How many held tokens have each fingerprint; a fingerprint none has is not a key. */
  private readonly fingerprints = new Map<number, number>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
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
    if (this.entries.size >= this.maxEntries) this.forget(this.entries.keys().next().value as string);
    this.entries.set(token.hash, { value, fingerprint: token.fingerprint });
    this.fingerprints.set(token.fingerprint, (this.fingerprints.get(token.fingerprint) ?? 0) + 1);
  }

  delete(token: BearerText): void {
    this.forget(token.hash);
  }

  private forget(hash: string): void {
    const held = this.entries.get(hash);
    if (!held) return;
    this.entries.delete(hash);
    const count = (this.fingerprints.get(held.fingerprint) ?? 1) - 1;
    if (count === 0) this.fingerprints.delete(held.fingerprint);
    else this.fingerprints.set(held.fingerprint, count);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.fingerprints.clear();
  }
}
