/** One row of jti_recent, as this process indexes it; pair and token are 16-byte latin1 strings. */
export interface RecentJti {
  id: number;
  pair: string;
  token: string;
  expiresAt: number;
}

/**
 * This connection's index of the replay ledger's recent bindings (the jti_recent table, which has
 * none on disk: see sqlite-jti.ts). It mirrors the table's rows in id order: rows other
 * connections appended are read in before each use (`lastId` says how far it has read), and
 * rows that left the table, pruned or moved to jti_bindings, are forgotten from the front.
 *
 * A pair bound again after its binding expired has two rows; the index answers with the newer.
 */
export class RecentJtis {
  /** Rows indexed at most before the oldest move to jti_bindings (KEYGATE_RECENT_JTI_ENTRIES). */
  readonly capacity: number;
  /** The highest id indexed: every row of jti_recent up to it is here, unless it left the table. */
  lastId = 0;
  /** True while a move of the oldest rows to jti_bindings waits for the loop's next turn. */
  moveScheduled = false;
  private readonly byPair = new Map<string, RecentJti>();
  /** The rows in id order, from `head` on; the slots before it are forgotten. */
  private rows: RecentJti[] = [];
  private head = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Rows indexed: the table's rows, and those it lost from the front since the last `forgetBefore`. */
  get size(): number {
    return this.rows.length - this.head;
  }

  find(pair: string): RecentJti | undefined {
    return this.byPair.get(pair);
  }

  /** The id of the row `offset` places from the oldest, or of the newest when there are fewer. */
  idAt(offset: number): number {
    const row = this.rows[Math.min(this.head + offset, this.rows.length - 1)];
    return row ? row.id : this.lastId;
  }

  /** Rows must come in id order, as the table hands them out. */
  add(row: RecentJti): void {
    if (row.id <= this.lastId) throw new Error(`RecentJtis: row ${row.id} is not after ${this.lastId}`);
    this.byPair.set(row.pair, row);
    this.rows.push(row);
    this.lastId = row.id;
  }

  /** Forgets every row before `firstId`, the oldest id the table still holds. */
  forgetBefore(firstId: number): void {
    while (this.head < this.rows.length) {
      const row = this.rows[this.head] as RecentJti;
      if (row.id >= firstId) break;
      if (this.byPair.get(row.pair) === row) this.byPair.delete(row.pair);
      this.head++;
    }
    // Dropping the forgotten slots copies the live ones: done once they are half the array, it
    // costs each row one copy at most.
    if (this.head > 1024 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
  }
}
