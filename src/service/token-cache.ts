import { hash } from 'node:crypto';
import { DEFAULT_MEMORY_BOUNDS } from '../core/memory-bounds.ts';
import type { Principal } from './principal.ts';

export interface CachedToken {
  principal: Principal;
  kid: string;
  exp: number;
}

/**
 * Tokens that verified, keyed by a SHA-256 of the whole token so that a cache hit proves the
 * caller holds exactly the token that was verified. Bounded (KEYGATE_TOKEN_CACHE_ENTRIES); when
 * full, the oldest entry goes first (tokens live at most an hour, so age is the right order), and
 * an evicted token costs its next request a full verification, nothing more. The caller
 * re-applies the time and key checks on every hit.
 *
 * A token enters on its second use (the replay ledger answers 'same-token'), not its first. Most
 * fresh tokens are sent once (a client signing per request): admitted at once, a flood of them
 * filled the cache with entries never read again and pushed out the tokens that clients do reuse.
 * A reused token pays one more full verification before its hits begin.
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();
  private readonly maxEntries: number;

  constructor(maxEntries = DEFAULT_MEMORY_BOUNDS.tokenCacheEntries) {
    this.maxEntries = maxEntries;
  }

  static hash(token: string): string {
    // One-shot crypto.hash: about half the cost of createHash().update().digest() per token.
    return hash('sha256', token, 'base64url');
  }

  get(hash: string): CachedToken | undefined {
    return this.entries.get(hash);
  }

  set(hash: string, entry: CachedToken): void {
    if (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(hash, entry);
  }

  delete(hash: string): void {
    this.entries.delete(hash);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
