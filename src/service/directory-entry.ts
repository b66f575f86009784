import { createPublicKey } from 'node:crypto';
import { signatureLength } from '../core/key-checks.ts';
import type { KeyRecord } from '../core/key-record.ts';
import type { ResolvedKey } from '../core/verifying-key.ts';
import type { Store } from '../store/store.ts';

// The key directory's (key-directory.ts) entries and settings.

export interface DirectoryEntry extends ResolvedKey {
  singleUseTokens: boolean;
}

/**
 * Key-change messages between nodes (Redis pub/sub, KEYGATE_REDIS_URL): `publish` tells the
 * others that keys changed here, `listen` hears them. A message only says "read the feed now";
 * polling stays the safety net.
 */
export interface KeyChangeSignal {
  listen(onChange: () => void): void;
  publish(): void;
}

export interface KeyDirectoryOptions {
  /** How often to read the key change feed for changes made by other processes (the CLI, other nodes). */
  pollMs?: number;
  /** Keys held parsed at once (KEYGATE_KEY_CACHE_ENTRIES); the oldest goes first. */
  maxEntries?: number;
  /**
   * Store queries per second, at most, for kids memory cannot answer: kids this process does not
   * hold and keys it holds as disabled. Up to one second's worth may be spent at once.
   */
  missLookupsPerSecond?: number;
  /** How long a kid the store did not know is answered `undefined` from memory. */
  unknownKidTtlMs?: number;
  /** How many such kids are remembered at once (KEYGATE_UNKNOWN_KID_ENTRIES); the oldest goes first. */
  maxUnknownKids?: number;
  /**
   * How long the feed may go unread before memory is no longer trusted (KEYGATE_KEY_FEED_MAX_LAG_MS):
   * past it, requests that need a key get 503 keys_stale until a read succeeds. Keep it above two polls.
   */
  maxFeedLagMs?: number;
  /** Kids the kid filter is sized for (DEFAULT_KID_FILTER_CAPACITY); tests make it small. */
  kidFilterCapacity?: number;
  /** Tells other nodes of changes made here, and this one of theirs, sooner than the poll. */
  signal?: KeyChangeSignal;
  /** Changes read per feed query; a node that fell behind reads batch after batch. */
  feedBatch?: number;
  /** A monotonic clock in milliseconds for the budget, the unknown-kid entries and the feed's lag; tests freeze it. */
  nowMs?: () => number;
}

/** A key read from the store, as the directory keeps it: its KeyObject parsed once, and its org's rule. */
export async function parseEntry(store: Store, record: KeyRecord): Promise<DirectoryEntry> {
  const org = await store.getOrg(record.orgId);
  const keyObject = createPublicKey(record.spkiPem);
  return {
    record,
    keyObject,
    signatureBytes: signatureLength(keyObject),
    singleUseTokens: org?.singleUseTokens ?? false,
  };
}
