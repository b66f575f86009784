/**
 * This connection's index of the replay ledger's recent bindings (the jti_recent table, which has
 * none on disk: see sqlite-jti.ts): the id of the row holding each pair's newest binding, nothing
 * more, the row itself read when a pair is met again (a token used again, or a jti reused), which
 * fresh tokens never are. It mirrors the table in id order: rows other connections appended are
 * read in before each use (`lastId` says how far it has read), and rows that left the table,
 * pruned or moved to jti_bindings, are forgotten from the front.
 *
 * The Map's own insertion order is the id order: a pair bound again after its binding expired
 * is deleted and set again, so it moves to the end with its newer id. A pair's id and its 16-byte
 * key take about 64 bytes (measured by the bindings flood, memory-bounds.test.ts). The id, not
 * the binding's place in its row: an id stays a small integer, which V8 keeps in the Map itself,
 * where a larger number would be an object of its own for each pair.
 */
export class RecentJtis {
  /** Pairs indexed at most before the oldest move to jti_bindings (KEYGATE_RECENT_JTI_ENTRIES). */
  readonly capacity: number;
  /** The highest row id indexed: every row of jti_recent up to it is here, unless it left the table. */
  lastId = 0;
  /** True while a move of the oldest rows to jti_bindings waits for the loop's next turn. */
  moveScheduled = false;
  private readonly idByPair = new Map<string, number>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Pairs indexed. */
  get size(): number {
    return this.idByPair.size;
  }

  /** The id of the row holding the pair's newest binding, if it has one here. */
  idOf(pair: string): number | undefined {
    return this.idByPair.get(pair);
  }

  /** Row `id`'s pairs. Rows must come in id order, as the table hands them out. */
  add(id: number, pairs: readonly string[]): void {
    if (id <= this.lastId) throw new Error(`RecentJtis: row ${id} is not after ${this.lastId}`);
    for (const pair of pairs) {
      this.idByPair.delete(pair);
      this.idByPair.set(pair, id);
    }
    this.lastId = id;
  }

  /** The id of the pair `offset` places from the oldest, or of the newest row when there are fewer. */
  idAt(offset: number): number {
    let place = 0;
    for (const id of this.idByPair.values()) if (place++ >= offset) return id;
    return this.lastId;
  }

  /** Forgets every pair whose row is before `firstId`, the oldest id the table still holds. */
  forgetBefore(firstId: number): void {
    for (const [pair, id] of this.idByPair) {
      if (id >= firstId) return;
      this.idByPair.delete(pair);
    }
  }
}
