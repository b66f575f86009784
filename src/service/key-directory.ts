import { isIssuedId } from '../core/ids.ts';
import type { KeyRecord } from '../core/key-record.ts';
import type { KidFilter } from '../core/kid-filter.ts';
import { DEFAULT_MEMORY_BOUNDS } from '../core/memory-bounds.ts';
import type { ReasonCode } from '../core/reason-codes.ts';
import type { KeyChange, Store } from '../store/store.ts';
import { BoundedMap } from './bounded-map.ts';
import {
  type DirectoryEntry,
  type KeyChangeSignal,
  type KeyDirectoryOptions,
  type KeyEntry,
  loadEntry,
} from './directory-entry.ts';
import { FeedWatch } from './feed-watch.ts';
import { fillKidFilter, newKidFilter } from './key-directory-kid-filter.ts';
import { KeyFeedReader } from './key-feed-reader.ts';
import { KeyUsageRecorder } from './key-usage-recorder.ts';
import { MissBudget } from './miss-budget.ts';
import { UnknownKids } from './unknown-kids.ts';

export type { DirectoryEntry, KeyChangeSignal, KeyDirectoryOptions } from './directory-entry.ts';
export { DEFAULT_KID_FILTER_CAPACITY } from './key-directory-kid-filter.ts';

export const DEFAULT_FEED_MAX_LAG_MS = 1000;

/**
 * Keys as verification needs them: a KeyObject per kid in use, parsed once. Nothing here grows
 * with the number of keys in the store. Every `pollMs` the node reads the store's key change
 * feed from the revision it holds and applies exactly what changed: a loaded key is updated in
 * place (keeping its KeyObject and its cached tokens), an unknown-kid answer the change
 * contradicts is dropped, and a changed kid memory does not hold is noted (`announced`) so that
 * it loads without spending the budget below. An idle poll is one indexed query that finds
 * nothing; a change costs work proportional to the change, not to the key count.
 *
 * Memory is a shortcut for the kids it holds, never the answer for one it lacks: a key
 * registered by another process (the CLI, another worker or node) is accepted by the very next
 * request, not after the next poll. A kid memory lacks is asked of the store, but so that a
 * flood of made-up kids still costs the store nothing per request:
 * - a kid that is not a lowercase UUID (the only kind the store issues) is refused unread;
 * - concurrent lookups of one kid share one query;
 * - a kid the store did not know is answered from memory for `unknownKidTtlMs`;
 * - a Bloom filter of every kid of the store (KidFilter: memory fixed by its capacity, about
 *   1.2 MB for a million keys, filled at start and by the feed) tells a kid the store may hold
 *   from one it certainly did not hold at the last feed read. A kid it may hold is read from
 *   the store: an evicted key in use must verify, a revoked one must answer key_revoked. Made-up
 *   kids reach the store only as the filter's false positives, about 1% of them.
 * - a kid the filter has never seen is read from the store only within a budget of
 *   `missLookupsPerSecond` (it may have been registered elsewhere since the last feed read);
 *   past it the answer is kid_unknown with no query, which only delays such a new key until the
 *   next feed read announces it. A kid the feed announced loads outside the budget.
 * Status changes made by another process are seen within `pollMs`, or at once when it sends a
 * `signal`; those made through this process (`invalidate`) at once. A disabled key is the
 * exception: `key enable` elsewhere must
 * apply to the very next request, so a disabled entry is re-read (within the same budget).
 *
 * Fail closed: memory is never trusted past `maxFeedLagMs` after the last successful feed read.
 * Past it `cached` answers nothing and `lookup` reads the feed first (one query, shared by every
 * lookup meanwhile, which applies every change missed); when that read fails, or one has hung
 * past the bound, it refuses with 503 keys_stale. A late timer costs a read, a store that cannot
 * answer the feed a refusal.
 */
export class KeyDirectory {
  private readonly store: Store;
  /** At most `maxEntries`: an evicted key is read again when used (within the budget). */
  private readonly entries = new Map<string, KeyEntry>();
  /**
   * Kids the feed or this process reported changed, that memory does not hold parsed: keys the
   * store has, so they load without spending the budget. At most `maxEntries`; one forgotten
   * costs only a budgeted read.
   */
  private readonly announced: BoundedMap<string, true>;
  private readonly unknownKids: UnknownKids;
  /** Every kid of the store as of the last feed read, and every kid this process registered. */
  private readonly kids: KidFilter;
  /**
   * Store reads under way, one per kid, each gone when it settles: bounded by the announced and
   * loaded kids plus the reads the miss budget lets start while others wait for the store.
   */
  private readonly pending = new Map<string, Promise<DirectoryEntry | undefined>>();
  /**
   * Moves whenever key state is applied from elsewhere (a feed read that found changes,
   * `invalidate`). A store read that started before it moved may be older than what memory holds
   * now, so its answer serves its own request but is not kept.
   */
  private epoch = 0;
  private readonly pollMs: number;
  private readonly maxEntries: number;
  private readonly nowMs: () => number;
  private readonly budget: MissBudget;
  /** How current memory is; `reader` reports every feed read to it. */
  private readonly feed: FeedWatch;
  private readonly reader: KeyFeedReader;
  /** How tokens naming stored keys ended since the last flush (every 10 s): only kids the store has. */
  private readonly usage: KeyUsageRecorder;
  private readonly signal: KeyChangeSignal | undefined;

  constructor(store: Store, options: KeyDirectoryOptions = {}) {
    this.store = store;
    this.signal = options.signal;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.pollMs = options.pollMs ?? 250;
    this.maxEntries = options.maxEntries ?? DEFAULT_MEMORY_BOUNDS.keyCacheEntries;
    this.announced = new BoundedMap(this.maxEntries);
    // One second: long enough that repeating a made-up kid costs one query a second, short
    // enough that a kid asked about just before its key was committed (a read replica behind,
    // say) is not refused for long; the feed overrides it sooner anyway.
    this.unknownKids = new UnknownKids(
      options.unknownKidTtlMs ?? 1000,
      options.maxUnknownKids ?? DEFAULT_MEMORY_BOUNDS.unknownKidEntries,
      this.nowMs,
    );
    // 50 primary-key reads a second is noise for any store, and far more keys than people and
    // deploy scripts register and use within one poll interval.
    this.budget = new MissBudget(options.missLookupsPerSecond ?? 50, this.nowMs);
    this.kids = newKidFilter(options.kidFilterCapacity);
    // Several polls must be able to fail before the caches are refused: a slow poll is not an outage.
    const lag = options.maxFeedLagMs ?? Math.max(DEFAULT_FEED_MAX_LAG_MS, 4 * this.pollMs);
    this.feed = new FeedWatch(lag, this.nowMs);
    // A sweep of a few thousand rotated keys is read in a few queries, each one a short read.
    const feedBatch = options.feedBatch ?? 1000;
    this.reader = new KeyFeedReader(store, feedBatch, this.feed, (change) => this.apply(change));
    this.usage = new KeyUsageRecorder(store);
  }

  /**
   * Reads where the feed stands, fills the kid filter with every kid of the store (the one cost
   * at start that grows with the number of keys: one pass over the key ids, in batches), then
   * polls the feed.
   */
  async start(): Promise<void> {
    const startedAt = this.feed.begin();
    const revision = await this.store.keyRevision();
    await fillKidFilter(this.store, this.kids);
    // Keys changed while the filter filled are in it, and the first poll applies them again.
    this.reader.startFrom(revision);
    this.feed.succeeded(startedAt);
    this.signal?.listen(() => this.reader.nudge());
    this.reader.poll(this.pollMs);
    this.usage.start();
  }

  async stop(): Promise<void> {
    this.reader.stop();
    await this.usage.stop();
  }

  /** Reads the feed from the revision held, batch after batch, and applies every change. */
  refresh(): Promise<void> {
    return this.reader.refresh();
  }

  /** Why memory cannot be trusted right now (the feed cannot be read), for /readyz; reads it if due. */
  async staleReason(): Promise<string | undefined> {
    if (this.feed.stale) await this.reader.catchUp().catch(() => {});
    return this.feed.reason();
  }

  /** How many entries each of its maps holds. */
  get sizes(): Record<'entries' | 'announced' | 'unknownKids' | 'pending' | 'usage', number> {
    return {
      entries: this.entries.size,
      announced: this.announced.size,
      unknownKids: this.unknownKids.size,
      pending: this.pending.size,
      usage: this.usage.size,
    };
  }

  /** The entry for a kid if it is loaded and memory is current; no I/O waited for. */
  cached(kid: string): DirectoryEntry | undefined {
    if (!this.feed.stale) return this.entries.get(kid);
    // The caller goes on to `lookup`, which waits for this same read.
    this.reader.catchUp().catch(() => {});
    return undefined;
  }

  /**
   * The entry a token's kid names: from memory when it can answer, else a promise of the store's
   * answer. The authenticator awaits only when a promise comes back, so warm kids cost no tick.
   * A failed store read or a feed that cannot be read rejects the promise: the caller fails closed.
   * A kid the kid filter never saw, past the budget, is answered undefined (kid_unknown) at once.
   */
  lookup(kid: string): DirectoryEntry | undefined | Promise<DirectoryEntry | undefined> {
    if (this.feed.stale) return this.reader.catchUp().then(() => this.lookupCurrent(kid));
    return this.lookupCurrent(kid);
  }

  private lookupCurrent(kid: string): DirectoryEntry | undefined | Promise<DirectoryEntry | undefined> {
    const entry = this.entries.get(kid);
    // Active and expired keys change only through the feed or `invalidate`, and revocation is final.
    if (entry && entry.record.status !== 'disabled') return entry;
    const pending = this.pending.get(kid);
    if (pending) return pending;
    // Out of budget, a disabled key stays disabled until the feed says otherwise.
    if (entry) return this.budget.take() ? this.load(kid) : entry;
    if (this.announced.get(kid)) return this.load(kid);
    if (!isIssuedId(kid) || this.unknownKids.has(kid)) return undefined;
    if (this.kids.mayHave(kid)) return this.load(kid);
    return this.budget.take() ? this.load(kid) : undefined;
  }

  /** `lookup`, always as a promise. */
  async resolve(kid: string): Promise<DirectoryEntry | undefined> {
    return this.lookup(kid);
  }

  /** Called by this process after it changes a key, so the change applies to the very next request. */
  invalidate(record: KeyRecord): void {
    this.kids.add(record.id);
    this.entries.delete(record.id);
    this.pending.delete(record.id);
    this.unknownKids.forget(record.id);
    this.announced.set(record.id, true);
    this.epoch++;
    this.signal?.publish();
  }

  /** A token signed by the stored key `kid` was accepted (cached or not). */
  noteAccepted(kid: string, now: number): void {
    this.usage.accepted(kid, now);
  }

  /** A token naming the stored key `kid` was refused; never called for a kid the store lacks. */
  noteRefused(kid: string, code: ReasonCode): void {
    this.usage.refused(kid, code);
  }

  /** The key verified a signed message: its last-used time moves, no token is counted. */
  noteUsed(kid: string, now: number): void {
    this.usage.used(kid, now);
  }

  /** Writes the uses counted since the last flush in one store write; see KeyUsageRecorder.flush. */
  flushUsage(): Promise<void> {
    return this.usage.flush();
  }

  /** Work per change, none per key held: only the changed kid is looked at. */
  private async apply(change: KeyChange): Promise<void> {
    this.epoch++;
    const entry = this.entries.get(change.id);
    this.kids.add(change.id);
    if (!entry) {
      this.unknownKids.forget(change.id);
      this.announced.set(change.id, true);
    } else if (entry.record.revokesAt !== change.revokesAt) {
      // A changed revokesAt is a rotation, which also named the replacement: read it again.
      entry.update((await this.store.getKey(change.id)) ?? entry.record);
    } else {
      entry.update({ ...entry.record, status: change.status, expiresAt: change.expiresAt });
    }
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
        this.announced.delete(kid);
        this.unknownKids.remember(kid);
      }
      return undefined;
    }
    const loaded = this.entries.get(kid);
    // A re-read (of a disabled key) needs only the record: the public key and the org stay.
    const entry = loaded ? loaded.withRecord(record) : await loadEntry(this.store, record);
    if (epoch === this.epoch) this.keep(entry);
    return entry;
  }

  private keep(entry: KeyEntry): void {
    const kid = entry.record.id;
    if (!this.entries.has(kid) && this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(kid, entry);
    this.announced.delete(kid);
    this.unknownKids.forget(kid);
  }
}
