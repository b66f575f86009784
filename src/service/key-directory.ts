import { createPublicKey } from 'node:crypto';
import { signatureLength } from '../core/key-checks.ts';
import type { KeyRecord } from '../core/key-record.ts';
import type { ResolvedKey } from '../core/verify-token.ts';
import type { Store } from '../store/store.ts';

export interface DirectoryEntry extends ResolvedKey {
  singleUseTokens: boolean;
}

export interface KeyDirectoryOptions {
  /** How often to look for key changes made by other processes (the CLI, other nodes). */
  pollMs?: number;
  maxEntries?: number;
}

/**
 * Keys as verification needs them: a KeyObject per kid, parsed once. It also holds the set of
 * every kid that exists, so a flood of unknown or made-up kids is answered from memory and never
 * reaches the store. A change made by another process is seen within `pollMs`; one made through
 * this process (`invalidate`) at once.
 */
export class KeyDirectory {
  private readonly store: Store;
  private readonly entries = new Map<string, DirectoryEntry>();
  private knownKids = new Set<string>();
  private revision = -1;
  private timer: NodeJS.Timeout | undefined;
  private readonly pollMs: number;
  private readonly maxEntries: number;
  private readonly lastUsed = new Map<string, number>();
  private refreshing: Promise<void> | undefined;

  constructor(store: Store, options: KeyDirectoryOptions = {}) {
    this.store = store;
    this.pollMs = options.pollMs ?? 250;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async start(): Promise<void> {
    await this.refresh();
    let polls = 0;
    const flushEvery = Math.max(1, Math.round(10_000 / this.pollMs));
    this.timer = setInterval(() => {
      polls++;
      const work =
        polls % flushEvery === 0 ? this.refresh().then(() => this.flushLastUsed()) : this.refresh();
      work.catch(() => {
        // The next poll tries again; until then the entries already loaded stay in force.
      });
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushLastUsed();
  }

  /**
   * When the store's key revision has moved: reloads the kid set and brings loaded keys up to
   * date in place. Keys whose state did not change keep their KeyObject and their cached tokens.
   */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const revision = await this.store.keyRevision();
        if (revision === this.revision) return;
        const states = await this.store.listKeyStates();
        this.knownKids = new Set(states.map((state) => state.id));
        for (const state of states) {
          const entry = this.entries.get(state.id);
          if (entry && (entry.record.status !== state.status || entry.record.expiresAt !== state.expiresAt)) {
            entry.record = { ...entry.record, status: state.status, expiresAt: state.expiresAt };
          }
        }
        for (const kid of this.entries.keys()) if (!this.knownKids.has(kid)) this.entries.delete(kid);
        this.revision = revision;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** The entry for a kid if it is loaded; no I/O. */
  cached(kid: string): DirectoryEntry | undefined {
    return this.entries.get(kid);
  }

  /**
   * The entry a token's kid names: from memory when it can answer, else a promise of the store's
   * answer. The authenticator awaits only when a promise comes back, so warm kids cost no tick.
   */
  lookup(kid: string): DirectoryEntry | undefined | Promise<DirectoryEntry | undefined> {
    return this.entries.get(kid) ?? this.resolve(kid);
  }

  async resolve(kid: string): Promise<DirectoryEntry | undefined> {
    const hit = this.entries.get(kid);
    if (hit) return hit;
    if (!this.knownKids.has(kid)) return undefined;
    const record = await this.store.getKey(kid);
    if (!record) return undefined;
    const org = await this.store.getOrg(record.orgId);
    const keyObject = createPublicKey(record.spkiPem);
    const entry: DirectoryEntry = {
      record,
      keyObject,
      signatureBytes: signatureLength(keyObject),
      singleUseTokens: org?.singleUseTokens ?? false,
    };
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(kid, entry);
    return entry;
  }

  /** Called by this process after it changes a key, so the change applies to the very next request. */
  invalidate(record: KeyRecord): void {
    this.entries.delete(record.id);
    this.knownKids.add(record.id);
  }

  noteUsed(kid: string, now: number): void {
    this.lastUsed.set(kid, now);
  }

  async flushLastUsed(): Promise<void> {
    if (this.lastUsed.size === 0) return;
    const batch = new Map(this.lastUsed);
    this.lastUsed.clear();
    await this.store.touchKeys(batch);
  }
}
