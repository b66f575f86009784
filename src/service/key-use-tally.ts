import { KEY_USE_OUTCOMES, type KeyUseBatch, type KeyUseCount } from '../core/key-usage.ts';
import type { ReasonCode } from '../core/reason-codes.ts';

/** Where each outcome's counter sits in a key's array: accepted first, then the reason codes. */
const SLOT = new Map(KEY_USE_OUTCOMES.map((outcome, slot) => [outcome, slot]));

/** One key's uses since the last flush. */
interface Tally {
  /** 0 until a use this batch sets it. */
  lastUsed: number;
  /** One counter per outcome, in KEY_USE_OUTCOMES order. */
  counts: Uint32Array;
}

/**
 * How tokens naming registered keys ended, counted in memory and written by `take` in batches:
 * the store sees one write per flush, never one per request. A use already verified costs one
 * map lookup and an increment; the array is made once per key per batch. Callers count only
 * kids the directory resolved to a stored key, so at most one entry per key used lately: a
 * made-up kid never gets here.
 */
export class KeyUseTally {
  private tallies = new Map<string, Tally>();

  /** A token verified with the key. */
  accepted(kid: string, now: number): void {
    const tally = this.tallies.get(kid) ?? this.add(kid);
    tally.counts[0] = (tally.counts[0] as number) + 1;
    if (now > tally.lastUsed) tally.lastUsed = now;
  }

  /** The key verified something that is not a token (a signed message): last used only. */
  used(kid: string, now: number): void {
    const tally = this.tallies.get(kid) ?? this.add(kid);
    if (now > tally.lastUsed) tally.lastUsed = now;
  }

  /** A token naming the key was refused for `code`. */
  refused(kid: string, code: ReasonCode): void {
    const tally = this.tallies.get(kid) ?? this.add(kid);
    const slot = SLOT.get(code) as number;
    tally.counts[slot] = (tally.counts[slot] as number) + 1;
  }

  /** Everything counted so far, as one batch for the store; counting starts again from nothing. */
  take(): KeyUseBatch {
    const taken = this.tallies;
    this.tallies = new Map();
    const counts: KeyUseCount[] = [];
    const lastUsed = new Map<string, number>();
    for (const [kid, tally] of taken) {
      if (tally.lastUsed > 0) lastUsed.set(kid, tally.lastUsed);
      tally.counts.forEach((count, slot) => {
        if (count > 0) counts.push({ kid, outcome: KEY_USE_OUTCOMES[slot] as KeyUseCount['outcome'], count });
      });
    }
    return { counts, lastUsed };
  }

  /** A batch the store could not take: its counts join the next one, so no use is lost. */
  putBack(batch: KeyUseBatch): void {
    for (const { kid, outcome, count } of batch.counts) {
      const tally = this.tallies.get(kid) ?? this.add(kid);
      const slot = SLOT.get(outcome) as number;
      tally.counts[slot] = (tally.counts[slot] as number) + count;
    }
    for (const [kid, at] of batch.lastUsed) this.used(kid, at);
  }

  /** Keys with uses not yet written. */
  get size(): number {
    return this.tallies.size;
  }

  private add(kid: string): Tally {
    const tally = { lastUsed: 0, counts: new Uint32Array(KEY_USE_OUTCOMES.length) };
    this.tallies.set(kid, tally);
    return tally;
  }
}
