/** The median of a window of RSS readings, with their spread. */
export interface RssWindow {
  medianMb: number;
  minMb: number;
  maxMb: number;
  readings: number;
}

/**
 * A process's RSS, read once a second over a run, summed up as windows. One reading is a coin
 * toss under mixed traffic: each login hashes in a 19 MiB block that glibc maps for the hash and
 * unmaps after it, and V8's young generation fills and empties several times a second, so
 * readings a second apart differed by up to 42 MB within one 30 s window of the soak. The median of a window leaves those out at both
 * ends of a run alike, while memory that stays moves it.
 */
export class RssSampler {
  private readonly readings: { atMs: number; mb: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly read: () => number;

  constructor(read: () => number, everyMs = 1000) {
    this.read = read;
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The readings taken from `fromMs` to `toMs` (Date.now() times); a window with none reads 0. */
  window(fromMs: number, toMs: number): RssWindow {
    return summarise(
      this.readings
        .filter((reading) => reading.atMs >= fromMs && reading.atMs <= toMs)
        .map((reading) => reading.mb),
    );
  }

  private sample(): void {
    try {
      this.readings.push({ atMs: Date.now(), mb: this.read() });
    } catch {
      // The process is gone (the run is ending): no reading.
    }
  }
}

/** The median, least and greatest of some readings, in MB; no readings read 0. */
export function summarise(readingsMb: readonly number[]): RssWindow {
  const mbs = [...readingsMb].sort((a, b) => a - b);
  if (mbs.length === 0) return { medianMb: 0, minMb: 0, maxMb: 0, readings: 0 };
  const middle = mbs.length >> 1;
  const median =
    mbs.length % 2 === 1
      ? (mbs[middle] as number)
      : ((mbs[middle - 1] as number) + (mbs[middle] as number)) / 2;
  return {
    medianMb: median,
    minMb: mbs[0] as number,
    maxMb: mbs[mbs.length - 1] as number,
    readings: mbs.length,
  };
}
