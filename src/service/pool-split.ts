import { performance } from 'node:perf_hooks';

/**
 * Which signatures of a busy turn are split with libuv's thread pool, every second one of them:
 * those of the kinds whose check costs the loop more than this many microseconds. 0 splits every
 * kind; Infinity keeps all on the loop.
 */
export type SplitFrom = number;

/**
 * The splits tried, in this order: every kind; only the costly kinds (above 40 us on the loop,
 * RS256-4096 and ES256 on the machines measured, where a trip to the pool costs less than the
 * check it takes off the loop); none.
 */
export const SPLITS: readonly SplitFrom[] = [0, 40, Number.POSITIVE_INFINITY];

export interface PoolSplitOptions {
  /** The event loop's busy time so far, in ms; by default Node's event-loop utilisation. */
  loopBusyMs?: () => number;
  /** Signatures of busy turns one window takes. */
  window?: number;
  /** Windows the best split is kept for before the splits are measured again. */
  hold?: number;
  /** Whether the first windows after start try each split once, measuring nothing. */
  warmUp?: boolean;
}

/** Each split is measured over this many windows, taken in turn with the others'. */
const MEASURED_PASSES = 2;

/**
 * Chooses the split by measuring it, because whether a trip to the pool pays depends on the
 * machine more than on the signature. The pool's thread gains only where another core is free
 * to run it, and a hand-off and its wake-up cost the loop and the kernel CPU that a cheap check
 * may not repay: on one 2-core machine, RS256-2048 tokens split with the pool went at 0.84x the
 * rate of keeping them on the loop; on another, faster one, at 1.16x (fresh tokens over HTTP,
 * 50 connections). On a single core, the pool's thread only takes the loop's time.
 *
 * What decides is the event loop's busy time per signature, measured over windows of busy turns
 * (those with more than one signature: a lone one is never split), each split in turn, twice.
 * Under load the loop is the bottleneck, so its time per signature is what the rate depends on,
 * and a pool thread that competes with it for a core shows there too. The best split is kept
 * for `hold` windows, then all are measured again, so that a change in the load (another kind
 * of key, a busier machine) is followed. After start, each split first runs a window unmeasured:
 * the first windows of a path measure the JIT compiling it and libuv starting its threads.
 */
export class PoolSplit {
  private readonly loopBusyMs: () => number;
  private readonly window: number;
  /** What each window does, by index into SPLITS: the measured passes, then the hold. */
  private readonly cycle: { split: number; measured: boolean }[];
  private position = 0;
  private plan: { split: number; measured: boolean }[];
  /** The split in force, by index into SPLITS. */
  private current: number;
  private busyMs: number[] = [];
  private signatures: number[] = [];
  private counted = 0;
  private startedAt: number;

  constructor(options: PoolSplitOptions = {}) {
    this.loopBusyMs = options.loopBusyMs ?? (() => performance.eventLoopUtilization().active);
    this.window = options.window ?? 4000;
    const each = SPLITS.map((_, split) => split);
    const measuring = Array.from({ length: MEASURED_PASSES }, () =>
      each.map((split) => ({ split, measured: true })),
    );
    // The hold's split is chosen when the measured windows are done; -1 until then.
    const holding = Array.from({ length: options.hold ?? 24 }, () => ({ split: -1, measured: false }));
    this.cycle = [...measuring.flat(), ...holding];
    const warmUp = options.warmUp === false ? [] : each.map((split) => ({ split, measured: false }));
    this.plan = [...warmUp, ...this.cycle];
    this.current = this.plan[0]?.split ?? 0;
    this.startedAt = this.loopBusyMs();
  }

  /** The split for a busy turn now. */
  get from(): SplitFrom {
    return SPLITS[this.current] as SplitFrom;
  }

  /** A busy turn verified `signatures` signatures under the split `from` gave. */
  turnVerified(signatures: number): void {
    this.counted += signatures;
    if (this.counted < this.window) return;
    const now = this.loopBusyMs();
    const step = this.plan[this.position];
    if (step?.measured) {
      this.busyMs[step.split] = (this.busyMs[step.split] ?? 0) + (now - this.startedAt);
      this.signatures[step.split] = (this.signatures[step.split] ?? 0) + this.counted;
    }
    this.position++;
    if (this.position === this.plan.length) {
      this.plan = this.cycle;
      this.position = 0;
      this.busyMs = [];
      this.signatures = [];
    }
    const next = (this.plan[this.position] as { split: number }).split;
    this.current = next >= 0 ? next : this.fastest();
    this.counted = 0;
    this.startedAt = this.loopBusyMs();
  }

  /** The split whose measured windows kept the loop least busy per signature. */
  private fastest(): number {
    let best = 0;
    let bestTime = Number.POSITIVE_INFINITY;
    for (let split = 0; split < SPLITS.length; split++) {
      const time = (this.busyMs[split] ?? 0) / (this.signatures[split] ?? 1);
      if (time < bestTime) {
        best = split;
        bestTime = time;
      }
    }
    return best;
  }
}
