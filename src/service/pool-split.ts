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
const ALL: SplitFrom = 0;
const COSTLY: SplitFrom = COSTLY_FROM_US;
export const SPLITS: readonly SplitFrom[] = [ALL, COSTLY];

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
  /** The time in ms, read at every busy turn; by default performance.now. */
  clock?: () => number;
}

/**
 * Every kind is split only where that costs less than this share of what the costly kinds alone
 * cost: a trip to the pool that saves less is within what two measurements of the same split
 * drift apart, and it costs CPU. On one 2-core machine, in one benchmark run, fresh RS256-2048
 * tokens with every kind split cost the loop 1.02-1.26x what they did on it in nine measurements
 * of ten.
 */
const PAYS_BELOW = 0.95;
/** Each split is measured over this many windows, taken in turn with the others'. */
const MEASURED_PASSES = 2;
/** The event loop is the bottleneck when, with the cheap kinds on it, it is busy this much of the time. */
const SATURATED = 0.9;
/**
 * Two windows of the hold in a row whose rate of signatures is off the measured windows' by more
 * than this factor, the same way, end the hold: the load changed, and with it what pays. One such
 * window is not enough: on a shared 2-core machine the rate of one window drifts by that much
 * with no change in the load (in the HTTP benchmark, a fresh-token row's rounds of 6,000 ended the
 * hold every 5-7 seconds, and were spent mostly measuring, half of it on the split that cost more).
 */
const LOAD_CHANGE = 1.4;
/**
 * Busy turns further apart than this (ms) have a lull between them: no load of fresh tokens, or
 * none with two signatures in a turn. A window's figures leave a lull out, its idle time and what
 * the loop did in it. Measured across a lull, a loop that was saturated whenever it had work read
 * as one with time to spare: fed in rounds with pauses between them (the HTTP benchmark's, a
 * client's bursts), the windows of fresh RS256-2048 tokens that spanned a pause chose by CPU, not
 * by the loop's time. And other requests answered in a lull (warm tokens, refusals) were counted
 * as the cost of the signatures of whichever split's window was under way: in the benchmark, one
 * split read 224 us of the loop per signature against the other's 66.
 */
export const LULL_MS = 50;

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
 * least CPU per signature is kept. Every kind is split only where it costs at least 5% less
 * (PAYS_BELOW). Either is kept for `hold` windows, then the splits are measured again, so that a
 * change in the load (another kind of key, a busier machine) is followed; sooner when two windows
 * of the hold in a row come at a rate 1.4 times off that split's measured windows' (a burst ends,
 * or begins), or one brings the first cheap kind to costly kinds kept unmeasured. A lull between
 * busy turns is left out of the window it falls in (LULL_MS). After start, one window splits every
 * kind unmeasured: the first window of the pool's path measures libuv starting its threads and the
 * JIT compiling it.
 */
export class PoolSplit {
  private readonly meters: () => Meters;
  private readonly window: number;
  private readonly hold: number;
  /** The split in force. */
  private current: SplitFrom = ALL;
  /** Whether the window under way is the one after start, which measures nothing. */
  private warmingUp: boolean;
  /** The measured windows still to come, the one under way first; empty while a split is kept. */
  private toMeasure: SplitFrom[] = [];
  /** Windows left of the hold of the split kept. */
  private holdLeft = 0;
  /** Per split: what its measured windows used, summed, and how many signatures they took. */
  private readonly used = new Map<SplitFrom, Used>();
  /** Signatures a ms in the measured windows of the split kept; NaN when it was kept unmeasured. */
  private measuredRate = Number.NaN;
  /** The way the last window of the hold was off the measured rate: 1 faster, -1 slower, 0 neither. */
  private lastOff = 0;
  /** Whether the turns since the splits were last measured brought a cheap kind. */
  private seenCheap = false;
  private counted = 0;
  private startedAt: Meters;
  private readonly clock: () => number;
  /** When the last busy turn was counted. */
  private lastTurnAt: number;

  constructor(options: PoolSplitOptions = {}) {
    this.meters = options.meters ?? processMeters;
    this.window = options.window ?? 2000;
    this.hold = options.hold ?? 48;
    this.warmingUp = options.warmUp !== false;
    if (!this.warmingUp) {
      // Nothing seen yet: measure both.
      this.seenCheap = true;
      this.startMeasuring();
    }
    this.startedAt = this.meters();
    this.clock = options.clock ?? (() => performance.now());
    this.lastTurnAt = this.clock();
  }

  /** The split for a busy turn now. */
  get from(): SplitFrom {
    return this.current;
  }

  /** A busy turn verified `signatures` signatures under the split `from` gave, `costly` of them of a costly kind. */
  turnVerified(signatures: number, costly: number): void {
    const at = this.clock();
    if (at - this.lastTurnAt > LULL_MS) this.leaveOut(at - this.lastTurnAt);
    this.lastTurnAt = at;
    if (costly < signatures) this.seenCheap = true;
    this.counted += signatures;
    if (this.counted < this.window) return;
    const now = this.meters();
    this.windowDone(now);
    this.counted = 0;
    this.startedAt = now;
  }

  /**
   * Takes a lull of `ms` out of the window under way. Only the clock is read at every busy turn
   * (the meters cost 2 us), so the lull is known at its end: its idle time is what the window's
   * idle time grew by, up to the lull's length, and the rest of it the loop was busy with other
   * work, taken out of the loop's busy time and the process's CPU alike.
   */
  private leaveOut(ms: number): void {
    const now = this.meters();
    const from = this.startedAt;
    const idle = Math.min(ms, now.loopIdle - from.loopIdle);
    const busy = Math.min(ms - idle, now.loopBusy - from.loopBusy, now.cpu - from.cpu);
    this.startedAt = {
      loopBusy: from.loopBusy + busy,
      loopIdle: from.loopIdle + idle,
      cpu: from.cpu + busy,
      wall: from.wall + idle + busy,
    };
  }

  private windowDone(now: Meters): void {
    if (this.warmingUp) {
      this.warmingUp = false;
      this.startMeasuring();
    } else if (this.toMeasure.length > 0) {
      this.note(this.current, now);
      this.toMeasure.shift();
      if (this.toMeasure.length > 0) this.current = this.toMeasure[0] as SplitFrom;
      else this.keepBest();
    } else {
      // A window of the hold. Costly kinds kept because no cheap kind came are measured against
      // splitting every kind as soon as one comes: a server whose first tokens were all ES256
      // would otherwise keep the RS256-2048 tokens that follow on the loop for the whole hold.
      const cheapCame = Number.isNaN(this.measuredRate) && this.seenCheap;
      const off = this.rateOff(now);
      const loadChanged = off !== 0 && off === this.lastOff;
      this.lastOff = off;
      this.holdLeft = cheapCame || loadChanged ? 0 : this.holdLeft - 1;
      if (this.holdLeft <= 0) this.startMeasuring();
    }
  }

  /** Both splits, twice, in turn; without cheap kinds to split there is nothing to measure. */
  private startMeasuring(): void {
    const cheap = this.seenCheap;
    this.seenCheap = false;
    this.used.clear();
    if (!cheap) {
      this.keep(COSTLY, Number.NaN);
      return;
    }
    this.toMeasure = Array.from({ length: MEASURED_PASSES }, () => [ALL, COSTLY]).flat();
    this.current = ALL;
  }

  private keep(split: SplitFrom, measuredRate: number): void {
    this.current = split;
    this.holdLeft = this.hold;
    this.measuredRate = measuredRate;
    this.lastOff = 0;
  }

  private note(split: SplitFrom, now: Meters): void {
    const used = this.used.get(split) ?? {
      meters: { loopBusy: 0, loopIdle: 0, cpu: 0, wall: 0 },
      signatures: 0,
    };
    used.meters.loopBusy += now.loopBusy - this.startedAt.loopBusy;
    used.meters.loopIdle += now.loopIdle - this.startedAt.loopIdle;
    used.meters.cpu += now.cpu - this.startedAt.cpu;
    used.meters.wall += now.wall - this.startedAt.wall;
    used.signatures += this.counted;
    this.used.set(split, used);
  }

  /** Which way the window just done was off the measured windows' rate: 1 faster, -1 slower, 0 neither. */
  private rateOff(now: Meters): number {
    const rate = this.counted / (now.wall - this.startedAt.wall);
    return rate > this.measuredRate * LOAD_CHANGE ? 1 : rate * LOAD_CHANGE < this.measuredRate ? -1 : 0;
  }

  /** Keeps the loop's least busy where it is the bottleneck, the least CPU otherwise. */
  private keepBest(): void {
    const costly = this.used.get(COSTLY)?.meters;
    const saturated =
      costly !== undefined && costly.loopBusy >= SATURATED * (costly.loopBusy + costly.loopIdle);
    const cost = (split: SplitFrom) => {
      const used = this.used.get(split);
      if (!used) return Number.POSITIVE_INFINITY;
      return (saturated ? used.meters.loopBusy : used.meters.cpu) / used.signatures;
    };
    const best = cost(ALL) < PAYS_BELOW * cost(COSTLY) ? ALL : COSTLY;
    const chosen = this.used.get(best);
    this.keep(best, chosen ? chosen.signatures / chosen.meters.wall : Number.NaN);
  }
}
