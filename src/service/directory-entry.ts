import { createPublicKey, type KeyObject } from 'node:crypto';
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

/**
 * A key as the directory keeps it: its record, its organization's rule, and its public key parsed
 * on first use and kept. A revoked key lets its parsed key go (`revoke`): revocation is final and
 * its tokens are refused before any signature check, so the KeyObject (about 4 KB of native
 * memory each, measured) is never needed again. Under key churn (each rotation revokes a key)
 * those otherwise held thousands of dead keys' worth, up to the directory's bound. For the same
 * reason it keeps only the part of its record that refuses its tokens (`revokedRecord`).
 */
export class KeyEntry implements DirectoryEntry {
  record: KeyRecord;
  readonly singleUseTokens: boolean;
  private parsed: { keyObject: KeyObject; signatureBytes: number } | undefined;

  constructor(record: KeyRecord, singleUseTokens: boolean, parsed?: KeyEntry['parsed']) {
    this.record = record.status === 'revoked' ? revokedRecord(record) : record;
    this.singleUseTokens = singleUseTokens;
    this.parsed = record.status === 'revoked' ? undefined : parsed;
  }

  get keyObject(): KeyObject {
    return this.publicKey().keyObject;
  }

  get signatureBytes(): number {
    return this.publicKey().signatureBytes;
  }

  /** Whether the public key is held parsed: for tests. */
  get holdsPublicKey(): boolean {
    return this.parsed !== undefined;
  }

  /** The same key with a newer record (a disabled key read again): the parsed key stays. */
  withRecord(record: KeyRecord): KeyEntry {
    return new KeyEntry(
      record,
      this.singleUseTokens,
      record.status === 'revoked' ? undefined : this.publicKey(),
    );
  }

  /** The key is now as `record` says; a revoked one drops its parsed public key. */
  update(record: KeyRecord): void {
    if (record.status === 'revoked') {
      this.record = revokedRecord(record);
      this.parsed = undefined;
    } else this.record = record;
  }

  private publicKey(): { keyObject: KeyObject; signatureBytes: number } {
    if (this.parsed) return this.parsed;
    const keyObject = createPublicKey(this.record.spkiPem);
    const parsed = { keyObject, signatureBytes: signatureLength(keyObject) };
    // A revoked key parsed once more (nothing on the verification path asks) is not kept.
    if (this.record.status !== 'revoked') this.parsed = parsed;
    return parsed;
  }
}

const NO_ROLES: KeyRecord['roles'] = [];

/**
 * A revoked key's record without its public key, thumbprint, label and roles: its tokens fail the
 * key check on its id and status, before anything else of the record is read, and revocation is
 * final. That leaves 0.4 KB of heap of the 0.8 KB an entry held with its whole record (measured
 * over 2,800 revoked P-256 keys), and the soak's key churn leaves thousands of them in the directory.
 */
export function revokedRecord(record: KeyRecord): KeyRecord {
  return { ...record, spkiPem: '', thumbprint: '', label: null, roles: NO_ROLES };
}

/** A key read from the store, with its organization's rule; its public key is parsed when first needed. */
export async function loadEntry(store: Store, record: KeyRecord): Promise<KeyEntry> {
  const org = await store.getOrg(record.orgId);
  return new KeyEntry(record, org?.singleUseTokens ?? false);
}
