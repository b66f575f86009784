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

/** What a window reads at its start and end: all in ms, each a running total. */
export interface Meters {
  /** Time the event loop was busy, and idle (Node's event-loop utilisation). */
  loopBusy: number;
  loopIdle: number;
  /** CPU time of the whole process, every thread (the pool's too). */
  cpu: number;
  /** Time on the clock. */
  wall: number;
}

export interface PoolSplitOptions {
  /** The meters now; by default Node's event-loop utilisation and process.cpuUsage. */
  meters?: () => Meters;
  /** Signatures of busy turns one window takes. */
  window?: number;
  /** Windows the best split is kept for before the splits are measured again. */
  hold?: number;
  /** Whether the first windows after start try each split once, measuring nothing. */
  warmUp?: boolean;
}

/** Each split is measured over this many windows, taken in turn with the others'. */
const MEASURED_PASSES = 2;
/** The event loop is the bottleneck when, verifying every signature itself, it is busy this much of the time. */
const SATURATED = 0.9;
/**
 * A window of the hold whose rate of signatures is off the measured windows' by more than this
 * factor, either way, ends the hold: the load changed, and with it what pays.
 */
const LOAD_CHANGE = 1.4;

function processMeters(): Meters {
  const { active, idle } = performance.eventLoopUtilization();
  const { user, system } = process.cpuUsage();
  return { loopBusy: active, loopIdle: idle, cpu: (user + system) / 1000, wall: performance.now() };
}

/**
 * Chooses the split by measuring it, because whether a trip to the pool pays depends on the
 * machine and the load more than on the signature. The pool's thread gains only where another
 * core is free to run it, and a hand-off and its wake-up cost CPU that a cheap check may not
 * repay: on one 2-core machine, RS256-2048 tokens split with the pool went at 0.84x the rate of
 * keeping them on the loop; on another, faster one, at 1.16x (fresh tokens over HTTP, 50
 * connections). And below the loop's capacity a split buys no rate at all: paced at half the
 * maximum, every RS256-2048 signature split cost 77 us of the process's CPU a request against 57
 * (a pool thread woken for each), and the p99 was no better.
 *
 * Each split is measured in turn, twice, over windows of busy turns (those with more than one
 * signature: a lone one is never split). Where the loop, verifying every signature itself, was
 * busy 90% of the time or more, it is the bottleneck, and the split that keeps it least busy per
 * signature is kept: that is what the rate depends on, and a pool thread that takes the loop's
 * core shows there too. Otherwise the split that costs the process the least CPU per signature is
 * kept. Either is kept for `hold` windows, then all are measured again, so that a change in the
 * load (another kind of key, a busier machine) is followed; sooner when a window of the hold
 * comes at a rate 1.4 times off that split's measured windows' (a burst ends, or begins). After start, each
 * split first runs a window unmeasured: the first windows of a path measure the JIT compiling it
 * and libuv starting its threads.
 */
export class PoolSplit {
  private readonly meters: () => Meters;
  private readonly window: number;
  /** What each window does, by index into SPLITS: the measured passes, then the hold. */
  private readonly cycle: { split: number; measured: boolean }[];
  private position = 0;
  private plan: { split: number; measured: boolean }[];
  /** The split in force, by index into SPLITS. */
  private current: number;
  /** Per split: what its measured windows used, summed, and how many signatures they took. */
  private used: { meters: Meters; signatures: number }[] = [];
  /** Signatures a ms in the measured windows of the split the hold keeps. */
  private measuredRate = 0;
  private counted = 0;
  private startedAt: Meters;

  constructor(options: PoolSplitOptions = {}) {
    this.meters = options.meters ?? processMeters;
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
    this.startedAt = this.meters();
  }

  /** The split for a busy turn now. */
  get from(): SplitFrom {
    return SPLITS[this.current] as SplitFrom;
  }

  /** A busy turn verified `signatures` signatures under the split `from` gave. */
  turnVerified(signatures: number): void {
    this.counted += signatures;
    if (this.counted < this.window) return;
    const now = this.meters();
    const step = this.plan[this.position];
    if (step?.measured) this.note(step.split, now);
    this.position++;
    if (this.position === this.plan.length || (step?.split === -1 && this.loadChanged(now))) {
      this.plan = this.cycle;
      this.position = 0;
      this.used = [];
    }
    const next = (this.plan[this.position] as { split: number }).split;
    this.current = next >= 0 ? next : this.best();
    this.counted = 0;
    this.startedAt = this.meters();
  }

  private note(split: number, now: Meters): void {
    this.used[split] ??= { meters: { loopBusy: 0, loopIdle: 0, cpu: 0, wall: 0 }, signatures: 0 };
    const used = this.used[split];
    used.meters.loopBusy += now.loopBusy - this.startedAt.loopBusy;
    used.meters.loopIdle += now.loopIdle - this.startedAt.loopIdle;
    used.meters.cpu += now.cpu - this.startedAt.cpu;
    used.meters.wall += now.wall - this.startedAt.wall;
    used.signatures += this.counted;
  }

  /** Whether the window of the hold just done came at a rate the measured windows did not. */
  private loadChanged(now: Meters): boolean {
    const rate = this.counted / (now.wall - this.startedAt.wall);
    return rate > this.measuredRate * LOAD_CHANGE || rate * LOAD_CHANGE < this.measuredRate;
  }

  /** The split to keep: the loop's least busy where it is the bottleneck, the least CPU otherwise. */
  private best(): number {
    const none = this.used[SPLITS.length - 1]?.meters;
    const saturated = none !== undefined && none.loopBusy >= SATURATED * (none.loopBusy + none.loopIdle);
    const cost = (split: number) => {
      const used = this.used[split];
      if (!used) return Number.POSITIVE_INFINITY;
      return (saturated ? used.meters.loopBusy : used.meters.cpu) / used.signatures;
    };
    let best = 0;
    for (let split = 1; split < SPLITS.length; split++) if (cost(split) < cost(best)) best = split;
    const chosen = this.used[best];
    this.measuredRate = chosen ? chosen.signatures / chosen.meters.wall : 0;
    return best;
  }
}
