import { DEFAULT_MEMORY_BOUNDS } from '../core/memory-bounds.ts';
import type { Principal } from './principal.ts';
import { TokenMap } from './token-map.ts';

export interface CachedToken {
  principal: Principal;
  kid: string;
  exp: number;
}

/**
 * Tokens that verified, keyed by their SHA-256 (TokenMap, BearerText). Bounded
 * (KEYGATE_TOKEN_CACHE_ENTRIES); when full, the oldest entry goes first (tokens live at most an
 * hour, so age is the right order), and an evicted token costs its next request a full
 * verification, nothing more. The caller
 * re-applies the time and key checks on every hit.
 *
 * A token enters on its second use (the replay ledger answers 'same-token'), not its first. Most
 * fresh tokens are sent once (a client signing per request): admitted at once, a flood of them
 * filled the cache with entries never read again and pushed out the tokens that clients do reuse.
 * A reused token pays one more full verification before its hits begin.
 */
export class TokenCache extends TokenMap<CachedToken> {
  constructor(maxEntries = DEFAULT_MEMORY_BOUNDS.tokenCacheEntries) {
    super(maxEntries);
  }
}
