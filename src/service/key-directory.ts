import { createPublicKey } from 'node:crypto';
import { isIssuedId } from '../core/ids.ts';
import { signatureLength } from '../core/key-checks.ts';
import type { KeyRecord } from '../core/key-record.ts';
import { DEFAULT_MEMORY_BOUNDS } from '../core/memory-bounds.ts';
import type { ResolvedKey } from '../core/verifying-key.ts';
import type { Store } from '../store/store.ts';

export interface DirectoryEntry extends ResolvedKey {
  singleUseTokens: boolean;
}

export interface KeyDirectoryOptions {
  /** How often to look for key changes made by other processes (the CLI, other nodes). */
  pollMs?: number;
  /** Keys held parsed at once (KEYGATE_KEY_CACHE_ENTRIES); the oldest goes first. */
  maxEntries?: number;
  /**
   * Store queries per second, at most, for kids memory cannot answer: kids this process has not
   * seen yet and keys it holds as disabled. Up to one second's worth may be spent at once.
   */
  missLookupsPerSecond?: number;
  /** How long a kid the store did not know is answered `undefined` from memory. */
  unknownKidTtlMs?: number;
  /** How many such kids are remembered at once (KEYGATE_UNKNOWN_KID_ENTRIES); the oldest goes first. */
  maxUnknownKids?: number;
  /** A monotonic clock in milliseconds for the budget and the unknown-kid entries; tests freeze it. */
  nowMs?: () => number;
}

/**
 * Keys as verification needs them: a KeyObject per kid, parsed once, and the set of every kid
 * that exists. Memory is a shortcut for the kids it holds, never the answer for one it lacks: a
 * key registered by another process (the CLI, another worker) is accepted by the very next
 * request, not after the next poll. A kid memory lacks is asked of the store, but so that a
 * flood of made-up kids still costs the store nothing per request:
 * - concurrent lookups of one kid share one query;
 * - a kid the store did not know is answered from memory for `unknownKidTtlMs`;
 * - all such queries together spend a budget of `missLookupsPerSecond`. Past it a miss is
 *   answered `undefined` (kid_unknown) with no query, which only degrades a new key to the
 *   poll: the key revision still brings it within `pollMs`.
 * Status changes made by another process are seen within `pollMs`; those made through this
 * process (`invalidate`) at once. A disabled key is the exception: `key enable` elsewhere must
 * apply to the very next request, so a disabled entry is re-read (within the same budget).
 */
export class KeyDirectory {
  private readonly store: Store;
  /** At most `maxEntries`: an evicted key is still in `knownKids`, so it is read again, not refused. */
  private readonly entries = new Map<string, DirectoryEntry>();
  /**
   * Every kid in the store, revoked ones included (their rows are kept, and a revoked kid must
   * answer key_revoked, not kid_unknown): a cost per key ever registered, not per request, and
   * no setting bounds it. A kid is added here only once the store has it, so what grows it is
   * registrations, which the API rate-limits per address (KEYGATE_LOGIN_RATE_LIMIT).
   */
  private knownKids = new Set<string>();
  /** Kids the store did not know, each with the time (nowMs) until which that answer stands. */
  private readonly unknownKids = new Map<string, number>();
  /**
   * Store reads under way, one per kid, each gone when it settles: bounded by the kids of the
   * store plus the reads the miss budget lets start while others wait for the store.
   */
  private readonly pending = new Map<string, Promise<DirectoryEntry | undefined>>();
  /**
   * Moves whenever key state is applied from elsewhere (a poll that found changes, `invalidate`).
   * A store read that started before it moved may be older than what memory holds now, so its
   * answer serves its own request but is not kept.
   */
  private epoch = 0;
  private revision = -1;
  private timer: NodeJS.Timeout | undefined;
  private readonly pollMs: number;
  private readonly maxEntries: number;
  private readonly unknownKidTtlMs: number;
  private readonly maxUnknownKids: number;
  private readonly nowMs: () => number;
  private readonly budget: MissBudget;
  /** Kids that verified a token since the last flush (every 10 s): only kids the store has. */
  private readonly lastUsed = new Map<string, number>();
  private refreshing: Promise<void> | undefined;

  constructor(store: Store, options: KeyDirectoryOptions = {}) {
    this.store = store;
    this.pollMs = options.pollMs ?? 250;
    this.maxEntries = options.maxEntries ?? DEFAULT_MEMORY_BOUNDS.keyCacheEntries;
    // One second: long enough that repeating a made-up kid costs one query a second, short
    // enough that a kid asked about just before its key was committed (a read replica behind,
    // say) is not refused for long; the poll overrides it sooner anyway.
    this.unknownKidTtlMs = options.unknownKidTtlMs ?? 1000;
    this.maxUnknownKids = options.maxUnknownKids ?? DEFAULT_MEMORY_BOUNDS.unknownKidEntries;
    this.nowMs = options.nowMs ?? (() => performance.now());
    // 50 primary-key reads a second is noise for any store, and far more keys than people and
    // deploy scripts register and use within one poll interval.
    this.budget = new MissBudget(options.missLookupsPerSecond ?? 50, this.nowMs);
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
          if (
            entry &&
            (entry.record.status !== state.status ||
              entry.record.expiresAt !== state.expiresAt ||
              entry.record.revokesAt !== state.revokesAt)
          ) {
            // A changed revokesAt is a rotation, which also named the replacement: read it again.
            entry.record =
              entry.record.revokesAt === state.revokesAt
                ? { ...entry.record, status: state.status, expiresAt: state.expiresAt }
                : ((await this.store.getKey(state.id)) ?? entry.record);
          }
        }
        for (const kid of this.entries.keys()) if (!this.knownKids.has(kid)) this.entries.delete(kid);
        this.revision = revision;
        this.epoch++;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** How many entries each of its maps and sets holds. */
  get sizes(): {
    entries: number;
    unknownKids: number;
    pending: number;
    lastUsed: number;
    knownKids: number;
  } {
    return {
      entries: this.entries.size,
      unknownKids: this.unknownKids.size,
      pending: this.pending.size,
      lastUsed: this.lastUsed.size,
      knownKids: this.knownKids.size,
    };
  }

  /** The entry for a kid if it is loaded; no I/O. */
  cached(kid: string): DirectoryEntry | undefined {
    return this.entries.get(kid);
  }

  /**
   * The entry a token's kid names: from memory when it can answer, else a promise of the store's
   * answer. The authenticator awaits only when a promise comes back, so warm kids cost no tick.
   * A failed store read rejects the promise: the caller fails closed.
   */
  lookup(kid: string): DirectoryEntry | undefined | Promise<DirectoryEntry | undefined> {
    const entry = this.entries.get(kid);
    // Active and expired keys change only through a poll or `invalidate`, and revocation is final.
    if (entry && entry.record.status !== 'disabled') return entry;
    const pending = this.pending.get(kid);
    if (pending) return pending;
    // Out of budget, a disabled key stays disabled until the poll says otherwise.
    if (entry) return this.budget.take() ? this.load(kid) : entry;
    // The poll listed it: a real key, loaded once, so no budget is spent on it.
    if (this.knownKids.has(kid)) return this.load(kid);
    if (!isIssuedId(kid) || this.knownUnknown(kid) || !this.budget.take()) return undefined;
    return this.load(kid);
  }

  /** `lookup`, always as a promise. */
  async resolve(kid: string): Promise<DirectoryEntry | undefined> {
    return this.lookup(kid);
  }

  /** Called by this process after it changes a key, so the change applies to the very next request. */
  invalidate(record: KeyRecord): void {
    this.entries.delete(record.id);
    this.pending.delete(record.id);
    this.unknownKids.delete(record.id);
    this.knownKids.add(record.id);
    this.epoch++;
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

  /** One store read per kid at a time: every lookup of the kid meanwhile shares it. */
  private load(kid: string): Promise<DirectoryEntry | undefined> {
    const work = this.read(kid).finally(() => {
      if (this.pending.get(kid) === work) this.pending.delete(kid);
    });
    this.pending.set(kid, work);
    return work;
  }

  private async read(kid: string): Promise<DirectoryEntry | undefined> {
    const epoch = this.epoch;
    const record = await this.store.getKey(kid);
    if (!record) {
      if (epoch === this.epoch) {
        this.entries.delete(kid);
        this.knownKids.delete(kid);
        this.rememberUnknown(kid);
      }
      return undefined;
    }
    const loaded = this.entries.get(kid);
    // A re-read (of a disabled key) needs only the record: the public key and the org stay.
    const entry = loaded ? { ...loaded, record } : await this.parse(record);
    if (epoch === this.epoch) this.keep(entry);
    return entry;
  }

  private async parse(record: KeyRecord): Promise<DirectoryEntry> {
    const org = await this.store.getOrg(record.orgId);
    const keyObject = createPublicKey(record.spkiPem);
    return {
      record,
      keyObject,
      signatureBytes: signatureLength(keyObject),
      singleUseTokens: org?.singleUseTokens ?? false,
    };
  }

  private keep(entry: DirectoryEntry): void {
    const kid = entry.record.id;
    if (!this.entries.has(kid) && this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(kid, entry);
    this.knownKids.add(kid);
    this.unknownKids.delete(kid);
  }

  private knownUnknown(kid: string): boolean {
    const until = this.unknownKids.get(kid);
    if (until === undefined) return false;
    if (this.nowMs() < until) return true;
    this.unknownKids.delete(kid);
    return false;
  }

  private rememberUnknown(kid: string): void {
    this.unknownKids.delete(kid);
    if (this.unknownKids.size >= this.maxUnknownKids) {
      this.unknownKids.delete(this.unknownKids.keys().next().value as string);
    }
    this.unknownKids.set(kid, this.nowMs() + this.unknownKidTtlMs);
  }
}

/** A token bucket: `perSecond` store reads a second, of which up to one second's worth at once. */
class MissBudget {
  private readonly perSecond: number;
  private readonly nowMs: () => number;
  private tokens: number;
  private last: number;

  constructor(perSecond: number, nowMs: () => number) {
    this.perSecond = perSecond;
    this.nowMs = nowMs;
    this.tokens = perSecond;
    this.last = nowMs();
  }

  take(): boolean {
    const now = this.nowMs();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
