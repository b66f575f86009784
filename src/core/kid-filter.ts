/**
 * A Bloom filter of every kid the store holds: memory fixed by its capacity (about 1.2 bytes per
 * key at a 1% false-positive rate), whatever the number of keys. It answers "certainly not a kid
 * of the store" for a made-up kid with no store query, which is what keeps a flood of made-up
 * kids costing the store nothing; "maybe" sends the kid to the store. Kids are only ever added:
 * a revoked key keeps its kid, which must answer key_revoked, not kid_unknown. Past its capacity
 * the filter only grows less selective (more kids go to the store), never wrong.
 *
 * The hash is seeded per filter (`seed`), so that nobody can compute in advance which made-up
 * kids this process would send to the store.
 */
export class KidFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;
  private readonly hashes: number;
  private readonly seed: number;

  /** `capacity` kids at a 1% false-positive rate: 9.6 bits and 7 hashes per kid. */
  constructor(capacity: number, seed: number) {
    this.size = Math.max(64, Math.ceil(capacity * 9.6));
    this.bits = new Uint32Array(Math.ceil(this.size / 32));
    this.hashes = 7;
    this.seed = seed >>> 0;
  }

  add(kid: string): void {
    const [h1, h2] = this.hashPair(kid);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.size;
      this.bits[bit >>> 5] = (this.bits[bit >>> 5] as number) | (1 << (bit & 31));
    }
  }

  /** False only for a kid never added. */
  mayHave(kid: string): boolean {
    const [h1, h2] = this.hashPair(kid);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.size;
      if (((this.bits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  /** Bytes the filter holds. */
  get bytes(): number {
    return this.bits.byteLength;
  }

  /** Two FNV-1a hashes of the kid under two seeds (double hashing: Kirsch and Mitzenmacher). */
  private hashPair(kid: string): [number, number] {
    let a = (0x811c9dc5 ^ this.seed) >>> 0;
    let b = (0x01000193 ^ Math.imul(this.seed, 0x9e3779b1)) >>> 0;
    for (let i = 0; i < kid.length; i++) {
      const c = kid.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193) >>> 0;
      b = Math.imul(b ^ c, 0x85ebca6b) >>> 0;
    }
    // An odd step visits every bit position before repeating.
    return [a, (b | 1) >>> 0];
  }
}
