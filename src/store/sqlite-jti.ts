import { hash } from 'node:crypto';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import {
  bytesOf,
  entryAt,
  entryOf,
  type Held,
  JTI_ENTRY_BYTES,
  pairKey,
  pairsOf,
  putEntry,
} from './sqlite-jti-entries.ts';
import type { RecentJtis } from './sqlite-recent-jtis.ts';
import type { JtiBinding, JtiClaim } from './store.ts';

/**
 * How the embedded store keeps the replay ledger, in two tables.
 *
 * A commit's new bindings are appended to jti_recent as one row, a table with no index at all:
 * the row's `entries` hold them end to end (sqlite-jti-entries.ts) and its `expires_at` the latest of
 * their expiries. Each connection indexes those bindings in its own memory (RecentJtis), reading
 * in before each use the rows other connections appended, under the same write lock, so every
 * connection and process on the file sees every binding. A binding in an indexed B-tree cost a
 * page of the WAL for each fresh token, since each lands at a random place in the index (about
 * 1.5 pages of 4 KB a binding); a row of its own in jti_recent, one insert statement and one
 * B-tree cell a binding, which one row for the whole batch saves (measured with node:sqlite,
 * batches of 33 as the HTTP benchmark's turns make them: 2.1-2.3 against 6.0-7.4 us of CPU a
 * binding, BEGIN and COMMIT included).
 *
 * The memory is bounded (KEYGATE_RECENT_JTI_ENTRIES): past it, the oldest recent rows move to
 * jti_bindings, indexed on disk, in pair order, and the memory forgets them. A lookup that misses
 * the memory asks jti_bindings whenever it holds a row. Expired rows move nowhere: pruning
 * deletes them from the front of either table, a row of jti_recent once all its bindings expired.
 *
 * A pair is kept as a 16-byte digest instead of the issuer and the jti (any string a client
 * chose), and its token as the first 16 bytes of the token's SHA-256 instead of 43 characters.
 * 128 bits leave no practical room for two pairs to share a row: a collision would take about
 * 2^64 jtis of one issuer, and only its own signed tokens can reach the ledger.
 */

/**
 * Bindings moved beyond the bound each time the memory is full: one transaction moves a few
 * hundred (a few milliseconds of the event loop) rather than a batch's worth at every commit.
 */
const SPILL_SLACK = 256;

/** The (iss, jti) pair as 16 bytes; the length prefix keeps ("a", "bc") and ("ab", "c") apart. */
export function jtiPair(iss: string, jti: string): Buffer {
  return digest(`${iss.length}.${iss}${jti}`);
}

/** What a claim binds its pair to, as the store keeps it, and the hash the service handed in. */
interface Claimed {
  token: Buffer;
  hash: string;
}

/** A token's SHA-256 as the service hands it in (BearerText.hash): 43 base64url characters. */
const TOKEN_SHA256 = /^[A-Za-z0-9_-]{43}$/;

/**
 * The token a pair is bound to: the first 16 bytes of the token's SHA-256, read from the hash the
 * service hands in rather than hashed again (a second SHA-256 was as dear as the row's insert,
 * measured). Any other string is digested as every binding was before migration 12.
 */
export function boundToken(tokenHash: string): Buffer {
  return TOKEN_SHA256.test(tokenHash)
    ? Buffer.from(tokenHash.slice(0, 22), 'base64url')
    : olderBoundToken(tokenHash);
}

/** The token as bindings made before migration 12 hold it, digested from the hash (migration 6's too). */
export function olderBoundToken(tokenHash: string): Buffer {
  return digest(tokenHash);
}

function claimed(tokenHash: string): Claimed {
  return { token: boundToken(tokenHash), hash: tokenHash };
}

function digest(text: string): Buffer {
  // Through a 'binary' (latin1) string, one character a byte: a Buffer out of crypto.hash costs an
  // allocation of its own, twice the whole digest here (measured: 1.33 against 0.67 us).
  return Buffer.from(hash('sha256', text, 'binary').slice(0, 16), 'latin1');
}

/** What a claim gets from a binding found for its pair: 'bound' once that one expired. */
function answerHeld(held: Held, claim: Claimed, now: number): JtiBinding {
  if (held.expiresAt <= now) return 'bound';
  if (claim.token.equals(held.token)) return 'same-token';
  // A binding made before migration 12 (or moved to jti_bindings then) holds the older form. Only
  // a token met again gets here, so a fresh token never pays for the digest.
  return olderBoundToken(claim.hash).equals(held.token) ? 'same-token' : 'reused';
}

/**
 * A transaction's new bindings, written to jti_recent as one row; until then, what a later claim
 * of the same batch on the same pair finds. The Map's order is the row's slot order.
 */
class NewRows {
  /** The row written, with its pairs: the memory takes them once committed. */
  written: [id: number, pairs: string[]] | undefined;
  private readonly db: SqliteDatabase;
  private readonly entries: Buffer;
  private readonly held = new Map<string, Held>();
  private latest = Number.NEGATIVE_INFINITY;

  constructor(db: SqliteDatabase, claims: number) {
    this.db = db;
    this.entries = Buffer.allocUnsafe(claims * JTI_ENTRY_BYTES);
  }

  /** The binding this batch made for the pair, if it made one. */
  heldFor(pair: string): Held | undefined {
    return this.held.get(pair);
  }

  add(pair: string, pairBytes: Buffer, token: Buffer, expiresAt: number): void {
    // A NaN would bind the pair for ever and escape the row's latest expiry: the batch fails whole.
    if (!Number.isFinite(expiresAt))
      throw new RangeError(`jti claim: expiresAt ${expiresAt} is not a finite number`);
    putEntry(this.entries, this.held.size, pairBytes, token, expiresAt);
    this.held.set(pair, { token, expiresAt });
    if (expiresAt > this.latest) this.latest = expiresAt;
  }

  /** Appends the row, if any binding was added. */
  write(): void {
    if (this.held.size === 0) return;
    const { lastInsertRowid } = this.db
      .sql('INSERT INTO jti_recent (entries, expires_at) VALUES (?, ?)')
      .run(this.entries.subarray(0, this.held.size * JTI_ENTRY_BYTES), this.latest);
    this.written = [Number(lastInsertRowid), [...this.held.keys()]];
  }
}

export async function bindJtis(
  db: SqliteDatabase,
  recent: RecentJtis,
  claims: readonly JtiClaim[],
  now: number,
): Promise<JtiBinding[]> {
  if (claims.length === 0) return [];
  const answers = await db.write(() => {
    // The memory learns this batch's rows only once they are committed: a unit that meets a
    // lock or a failed COMMIT runs again from BEGIN, or fails every claim.
    const rows = new NewRows(db, claims.length);
    const answers = db.transaction(() => {
      readAppended(db, recent);
      const olderHeld = db.sql('SELECT EXISTS (SELECT 1 FROM jti_bindings) AS held').get() as Row;
      const answers = claims.map(({ iss, jti, tokenHash, expiresAt }): JtiBinding => {
        const pairBytes = jtiPair(iss, jti);
        const claim = claimed(tokenHash);
        const pair = pairKey(pairBytes);
        // A recent binding is newer than any older one of the same pair: that one had expired (or
        // was not there) when the recent one was bound.
        // A claim earlier in the batch counts.
        const held = rows.heldFor(pair) ?? heldRecently(db, recent, pair, pairBytes);
        const answer = held
          ? answerHeld(held, claim, now)
          : olderHeld.held === 1
            ? peekOlder(db, pairBytes, claim, now)
            : 'bound';
        if (answer !== 'bound') return answer;
        rows.add(pair, pairBytes, claim.token, expiresAt);
        return 'bound';
      });
      rows.write();
      return answers;
    });
    if (rows.written) recent.add(...rows.written);
    return answers;
  });
  await keepBound(db, recent, now);
  return answers;
}

export function peekJti(
  db: SqliteDatabase,
  recent: RecentJtis,
  iss: string,
  jti: string,
  tokenHash: string,
  now: number,
): Promise<JtiBinding> {
  return db.read(() => {
    readAppended(db, recent);
    const pairBytes = jtiPair(iss, jti);
    const claim = claimed(tokenHash);
    const held = heldRecently(db, recent, pairKey(pairBytes), pairBytes);
    if (!held) return peekOlder(db, pairBytes, claim, now);
    return answerHeld(held, claim, now);
  });
}

/** The pair's recent binding, read from its row; none if the memory has no row for it (or it was pruned). */
function heldRecently(
  db: SqliteDatabase,
  recent: RecentJtis,
  pair: string,
  pairBytes: Buffer,
): Held | undefined {
  const id = recent.idOf(pair);
  if (id === undefined) return undefined;
  const row = db.sql('SELECT entries FROM jti_recent WHERE id = ?').get(id) as Row | undefined;
  return row && entryOf(bytesOf(row.entries), pairBytes);
}

/**
 * Brings the memory level with jti_recent: forgets the rows that left it (moved or pruned by
 * any connection) and indexes the rows other connections appended since it last looked.
 */
function readAppended(db: SqliteDatabase, recent: RecentJtis): void {
  const { first } = db.sql('SELECT min(id) AS first FROM jti_recent').get() as Row;
  recent.forgetBefore(first === null ? Number.POSITIVE_INFINITY : Number(first));
  const rows = db.sql('SELECT id, entries FROM jti_recent WHERE id > ? ORDER BY id').all(recent.lastId);
  for (const row of rows) recent.add(Number(row.id), pairsOf(bytesOf(row.entries)));
}

function peekOlder(db: SqliteDatabase, pair: Buffer, claim: Claimed, now: number): JtiBinding {
  const row = db.sql('SELECT token, expires_at FROM jti_bindings WHERE pair = ?').get(pair) as
    | Row
    | undefined;
  return row
    ? answerHeld({ token: row.token as Uint8Array, expiresAt: Number(row.expires_at) }, claim, now)
    : 'bound';
}

/**
 * Keeps the memory within its bound, after a commit. Crossing it, the oldest rows move on the
 * loop's next turn, so that the claims of that commit are answered first. Callers that bind
 * without ever yielding to the loop (a script awaiting one batch after another) would put that
 * turn off indefinitely: past the bound by more than SPILL_SLACK, the commit waits for the move.
 */
async function keepBound(db: SqliteDatabase, recent: RecentJtis, now: number): Promise<void> {
  if (recent.size > recent.capacity + SPILL_SLACK) {
    await moveOldest(db, recent, now);
  } else if (recent.size > recent.capacity && !recent.moveScheduled) {
    recent.moveScheduled = true;
    setImmediate(() => {
      recent.moveScheduled = false;
      void moveOldest(db, recent, now);
    });
  }
}

/**
 * Moves the oldest recent rows, those holding the bindings beyond the bound and SPILL_SLACK more,
 * to jti_bindings. Two moves may overlap while one waits for a lock: the rows the first took are
 * gone for the second. A failed move leaves the rows where they were, still indexed; the next
 * commit tries again.
 */
async function moveOldest(db: SqliteDatabase, recent: RecentJtis, now: number): Promise<void> {
  if (recent.size <= recent.capacity) return;
  const through = recent.idAt(recent.size - recent.capacity + SPILL_SLACK - 1);
  try {
    await db.write(() => {
      db.transaction(() => {
        // Each pair's newest binding still in force (rows come in id order); expired ones bind
        // nothing and are left out.
        const live = new Map<string, { pair: Buffer; held: Held }>();
        for (const row of db.sql('SELECT entries FROM jti_recent WHERE id <= ? ORDER BY id').all(through)) {
          const entries = bytesOf(row.entries);
          for (let at = 0; at < entries.length; at += JTI_ENTRY_BYTES) {
            const held = entryAt(entries, at);
            if (held.expiresAt > now)
              live.set(pairKey(entries, at), { pair: entries.subarray(at, at + 16), held });
          }
        }
        // In pair order (a latin1 key sorts as its bytes), the bindings meet the index's pages
        // in its own order.
        const move = db.sql(
          `INSERT INTO jti_bindings (pair, token, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (pair) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at`,
        );
        for (const key of [...live.keys()].sort()) {
          const { pair, held } = live.get(key) as { pair: Buffer; held: Held };
          move.run(pair, held.token, held.expiresAt);
        }
        db.sql('DELETE FROM jti_recent WHERE id <= ?').run(through);
      });
      recent.forgetBefore(through + 1);
    });
  } catch {
    // Left for the next commit that finds the memory full.
  }
}
