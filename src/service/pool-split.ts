import { performance } from 'node:perf_hooks';

/**
 * Which signatures of a busy turn are split with libuv's thread pool, every second one of them:
 * those of the kinds whose check costs the loop more than this many microseconds. 0 splits every
 * kind; Infinity keeps all on the loop.
 */
export type SplitFrom = number;

/**
 * A kind whose check takes the loop more than this many microseconds is costly: RS256-4096 and
 * ES256 on the machines measured, where a trip to the pool costs less than the check it takes off
 * the loop.
 */
export const COSTLY_FROM_US = 40;

/**
 * The splits measured: every kind, or only the costly kinds. A costly kind is always split on a
 * machine with more than one core (TurnSignatures; on one core nothing is): fresh ES256 and
 * RS256-4096 tokens went at 1.26x and 1.20x the rate of verifying all on the loop on one 2-core
 * machine, and ES256 at 1.23x against 0.99x on another; what is measured is whether cheap kinds
 * pay for the trip too.
 */
export const SPLITS: readonly SplitFrom[] = [0, COSTLY_FROM_US];
const [ALL, COSTLY] = [0, 1];

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
  /** The meters now; by default Node's event-loop utilisation, process.cpuUsage and the clock. */
  meters?: () => Meters;
  /** Signatures of busy turns one window takes. */
  window?: number;
  /** Windows the best split is kept for before the splits are measured again. */
  hold?: number;
  /** Whether the first window after start splits every kind, measuring nothing. */
  warmUp?: boolean;
}

/** Each split is measured over this many windows, taken in turn with the others'. */
const MEASURED_PASSES = 2;
/** The event loop is the bottleneck when, with the cheap kinds on it, it is busy this much of the time. */
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

interface Used {
  meters: Meters;
  signatures: number;
}

/**
 * Chooses the split by measuring it, because whether a trip to the pool pays depends on the
 * machine and the load more than on the signature. The pool's thread gains only where another
 * core is free to run it, and a hand-off and its wake-up cost CPU that a cheap check may not
 * repay: on one 2-core machine, RS256-2048 tokens split with the pool went at 0.84x the rate of
 * keeping them on the loop; on another, faster one, at 1.10x (fresh tokens over HTTP, 50
 * connections). And below the loop's capacity a split buys no rate at all: paced at half the
 * maximum, every RS256-2048 signature split cost 69 us of the process's CPU a token against 54
 * (a pool thread woken for each).
 *
 * While the turns bring cheap kinds, both splits are measured in turn, twice, over windows of busy
 * turns (those with more than one signature: a lone one is never split). Where the loop, with the
 * cheap kinds on it, was busy 90% of the time or more, it is the bottleneck, and the split that
 * keeps it least busy per signature is kept: that is what the rate depends on, and a pool thread
 * that takes the loop's core shows there too. Otherwise the split that costs the process the
 * least CPU per signature is kept. Either is kept for `hold` windows, then the splits are
 * measured again, so that a change in the load (another kind of key, a busier machine) is
 * followed; sooner when a window of the hold comes at a rate 1.4 times off that split's measured
 * windows' (a burst ends, or begins). After start, one window splits every kind unmeasured: the
 * first window of the pool's path measures libuv starting its threads and the JIT compiling it.
 */
export class PoolSplit {
  private readonly meters: () => Meters;
  private readonly window: number;
  private readonly hold: number;
  /** The windows to come: each a split (by index into SPLITS) and whether it is measured. */
  private plan: { split: number; measured: boolean }[];
  /** Which windows of the hold are left; the hold's split is `current`. */
  private holdLeft = 0;
  /** The split in force, by index into SPLITS. */
  private current: number;
  /** Per split: what its measured windows used, summed, and how many signatures they took. */
  private used: (Used | undefined)[] = [];
  /** Signatures a ms in the measured windows of the split the hold keeps. */
  private measuredRate = 0;
  /** Whether the turns since the splits were last measured brought a cheap kind. */
  private seenCheap = false;
  private counted = 0;
  private startedAt: Meters;

  constructor(options: PoolSplitOptions = {}) {
    this.meters = options.meters ?? processMeters;
    this.window = options.window ?? 2000;
    this.hold = options.hold ?? 48;
    this.current = ALL;
    if (options.warmUp === false) {
      // Nothing seen yet: measure both.
      this.seenCheap = true;
      this.plan = this.measuring();
    } else {
      this.plan = [{ split: ALL, measured: false }];
    }
    this.startedAt = this.meters();
  }

  /** The split for a busy turn now. */
  get from(): SplitFrom {
    return SPLITS[this.current] as SplitFrom;
  }

  /** A busy turn verified `signatures` signatures under the split `from` gave, `costly` of them of a costly kind. */
  turnVerified(signatures: number, costly: number): void {
    if (costly < signatures) this.seenCheap = true;
    this.counted += signatures;
    if (this.counted < this.window) return;
    const now = this.meters();
    this.next(now);
    this.counted = 0;
    this.startedAt = this.meters();
  }

  private next(now: Meters): void {
    const done = this.plan.shift();
    if (done?.measured) this.note(done.split, now);
    // Not planned: a window of the hold.
    if (done === undefined) this.holdLeft = this.loadChanged(now) ? 0 : this.holdLeft - 1;
    if (this.plan.length === 0) {
      if (done?.measured) {
        this.current = this.best();
        this.holdLeft = this.hold;
        return;
      }
      // The warm-up, or the hold, is over.
      if (done !== undefined || this.holdLeft <= 0) this.plan = this.measuring();
    }
    if (this.plan.length > 0) this.current = (this.plan[0] as { split: number }).split;
  }

  /** The measured windows of one round: both splits, twice, in turn; none without cheap kinds to split. */
  private measuring(): { split: number; measured: boolean }[] {
    const cheap = this.seenCheap;
    this.seenCheap = false;
    this.used = [];
    if (!cheap) {
      this.current = COSTLY;
      this.holdLeft = this.hold;
      this.measuredRate = Number.NaN;
      return [];
    }
    return Array.from({ length: MEASURED_PASSES }, () =>
      [ALL, COSTLY].map((split) => ({ split, measured: true })),
    ).flat();
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
    const costly = this.used[COSTLY]?.meters;
    const saturated =
      costly !== undefined && costly.loopBusy >= SATURATED * (costly.loopBusy + costly.loopIdle);
    const cost = (split: number) => {
      const used = this.used[split];
      if (!used) return Number.POSITIVE_INFINITY;
      return (saturated ? used.meters.loopBusy : used.meters.cpu) / used.signatures;
    };
    // Of equals, the costly kinds only: a trip to the pool that buys nothing is not taken.
    const best = cost(ALL) < cost(COSTLY) ? ALL : COSTLY;
    const chosen = this.used[best];
    this.measuredRate = chosen ? chosen.signatures / chosen.meters.wall : Number.NaN;
    return best;
  }
}
