import { hash } from 'node:crypto';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import type { RecentJtis } from './sqlite-recent-jtis.ts';
import type { JtiBinding, JtiClaim } from './store.ts';

/**
 * How the embedded store keeps the replay ledger, in two tables.
 *
 * A new binding is appended to jti_recent, a table with no index at all: a batch of bindings
 * fills the table's last page or two. Each connection indexes those rows in its own memory
 * (RecentJtis), reading in before each use the rows other connections appended, under the same
 * write lock, so every connection and process on the file sees every binding. A binding in an
 * indexed B-tree cost a page of the WAL for each fresh token, since each lands at a random place
 * in the index (about 1.5 pages of 4 KB a binding). Measured in the benchmark's ledger process
 * (batches of 16, checkpoint thread included): 9.1-11.0 us of CPU a binding against 20.7-21.8 us
 * in the indexed table alone; the statements alone, 3.6-3.8 us appended against 16.1-16.5 us.
 *
 * The memory is bounded (KEYGATE_RECENT_JTI_ENTRIES): past it, the oldest recent rows move to
 * jti_bindings, indexed on disk, in one statement in pair order, and the memory forgets them.
 * A lookup that misses the memory asks jti_bindings whenever it holds a row. Expired rows move
 * nowhere: pruning deletes them from the front of either table.
 *
 * A pair and its token are kept as two 16-byte digests instead of the issuer, the jti (any string
 * a client chose) and a 43-character token hash. 128 bits leave no practical room for two pairs
 * to share a row: a collision would take about 2^64 jtis of one issuer, and only its own signed
 * tokens can reach the ledger.
 */

/**
 * Rows moved beyond the bound each time the memory is full: one statement moves a few hundred
 * (a few milliseconds of the event loop) rather than a batch's worth at every commit.
 */
const SPILL_SLACK = 256;

/** The (iss, jti) pair as 16 bytes; the length prefix keeps ("a", "bc") and ("ab", "c") apart. */
export function jtiPair(iss: string, jti: string): Buffer {
  return digest(`${iss.length}.${iss}${jti}`);
}

/** The token a pair is bound to, as 16 bytes of the hash the service hands in. */
export function boundToken(tokenHash: string): Buffer {
  return digest(tokenHash);
}

function digest(text: string): Buffer {
  // Through a 'binary' (latin1) string, one character a byte: a Buffer out of crypto.hash costs an
  // allocation of its own, twice the whole digest here (measured: 1.33 against 0.67 us).
  return Buffer.from(hash('sha256', text, 'binary').slice(0, 16), 'latin1');
}

/**
 * A pair's 16 bytes as the memory's key, a latin1 string, one character a byte. Made from the
 * bytes rather than kept from the digest's text: a slice of that text holds the whole of it
 * (measured when the memory kept two digests a binding: 263 bytes a binding against 167).
 */
function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A binding as a lookup finds it: its token's digest and when it expires. */
interface Held {
  token: Uint8Array;
  expiresAt: number;
}

/** What a claim with `token` gets from a binding found for its pair: 'bound' once that one expired. */
function answerHeld(held: Held, token: Buffer, now: number): JtiBinding {
  if (held.expiresAt <= now) return 'bound';
  return token.equals(held.token) ? 'same-token' : 'reused';
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
    const appended: [id: number, pair: string][] = [];
    const answers = db.transaction(() => {
      readAppended(db, recent);
      const olderHeld = db.sql('SELECT EXISTS (SELECT 1 FROM jti_bindings) AS held').get() as Row;
      // A claim earlier in the batch counts.
      const thisBatch = new Map<string, Held>();
      return claims.map(({ iss, jti, tokenHash, expiresAt }): JtiBinding => {
        const pairBytes = jtiPair(iss, jti);
        const token = boundToken(tokenHash);
        const pair = text(pairBytes);
        // A recent row is newer than any older one of the same pair: that one had expired (or
        // was not there) when the recent one was bound.
        const held = thisBatch.get(pair) ?? heldRecently(db, recent, pair);
        const answer = held
          ? answerHeld(held, token, now)
          : olderHeld.held === 1
            ? peekOlder(db, pairBytes, token, now)
            : 'bound';
        if (answer !== 'bound') return answer;
        const { lastInsertRowid } = db
          .sql('INSERT INTO jti_recent (pair, token, expires_at) VALUES (?, ?, ?)')
          .run(pairBytes, token, expiresAt);
        thisBatch.set(pair, { token, expiresAt });
        appended.push([Number(lastInsertRowid), pair]);
        return 'bound';
      });
    });
    for (const [id, pair] of appended) recent.add(id, pair);
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
    const token = boundToken(tokenHash);
    const held = heldRecently(db, recent, text(pairBytes));
    if (!held) return peekOlder(db, pairBytes, token, now);
    return answerHeld(held, token, now);
  });
}

/** The pair's recent binding, read from its row; none if the memory has no row for it (or it was pruned). */
function heldRecently(db: SqliteDatabase, recent: RecentJtis, pair: string): Held | undefined {
  const id = recent.idOf(pair);
  if (id === undefined) return undefined;
  const row = db.sql('SELECT token, expires_at FROM jti_recent WHERE id = ?').get(id) as Row | undefined;
  return row && { token: row.token as Uint8Array, expiresAt: Number(row.expires_at) };
}

/**
 * Brings the memory level with jti_recent: forgets the rows that left it (moved or pruned by
 * any connection) and indexes the rows other connections appended since it last looked.
 */
function readAppended(db: SqliteDatabase, recent: RecentJtis): void {
  const { first } = db.sql('SELECT min(id) AS first FROM jti_recent').get() as Row;
  recent.forgetBefore(first === null ? Number.POSITIVE_INFINITY : Number(first));
  const rows = db.sql('SELECT id, pair FROM jti_recent WHERE id > ? ORDER BY id').all(recent.lastId);
  for (const row of rows) recent.add(Number(row.id), text(row.pair as Uint8Array));
}

function peekOlder(db: SqliteDatabase, pair: Buffer, token: Buffer, now: number): JtiBinding {
  const row = db.sql('SELECT token, expires_at FROM jti_bindings WHERE pair = ?').get(pair) as
    | Row
    | undefined;
  return row
    ? answerHeld({ token: row.token as Uint8Array, expiresAt: Number(row.expires_at) }, token, now)
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
 * Moves the oldest recent rows, beyond the bound and SPILL_SLACK more, to jti_bindings. Two moves
 * may overlap while one waits for a lock: the rows the first took are gone for the second. A
 * failed move leaves the rows where they were, still indexed; the next commit tries again.
 */
async function moveOldest(db: SqliteDatabase, recent: RecentJtis, now: number): Promise<void> {
  if (recent.size <= recent.capacity) return;
  const through = recent.idAt(recent.size - recent.capacity + SPILL_SLACK - 1);
  try {
    await db.write(() => {
      db.transaction(() => {
        // In pair order, the rows meet the index's pages in its own order; of two rows of one
        // pair the later is written last. Expired rows bind nothing and are left out.
        db.sql(
          `INSERT INTO jti_bindings (pair, token, expires_at)
             SELECT pair, token, expires_at FROM jti_recent WHERE id <= ? AND expires_at > ? ORDER BY pair, id
             ON CONFLICT (pair) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at`,
        ).run(through, now);
        db.sql('DELETE FROM jti_recent WHERE id <= ?').run(through);
      });
      recent.forgetBefore(through + 1);
    });
  } catch {
    // Left for the next commit that finds the memory full.
  }
}
