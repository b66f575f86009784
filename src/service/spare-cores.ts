import { cpus } from 'node:os';

/** How often the machine's idle time is read (os.cpus() reads /proc/stat: a fraction of a millisecond). */
const SAMPLE_MS = 200;
/** Idle cores from which a process that is not yet using the thread pool starts to. */
const START_AT = 0.5;
/** Idle cores below which a process using the thread pool stops: the pool then only adds overhead. */
const STOP_AT = 0.15;

/**
 * Whether the machine has a core to spare for signature checks on libuv's thread pool. A check
 * handed to the pool costs more CPU in all than one done on the event loop (the hand-off and the
 * wake-ups): it pays only where another core would otherwise sit idle. Measured on two cores,
 * with a load generator taking a large share of the second: fresh RS256-2048 tokens cost 218 us
 * of CPU each through the pool against 158 us on the loop, at a lower rate; with a light
 * generator, the loop was the bottleneck and the idle core the waste. So the answer follows the
 * machine's idle time, read every SAMPLE_MS, with a gap between starting and stopping so that
 * the pool's own use of the idle core does not switch it off at once.
 */
export class SpareCores {
  private spare = false;
  private readonly read: () => CpuReading;
  private last: CpuReading;
  private readonly timer: NodeJS.Timeout;

  /** `read` is the machine's CPU times; a test hands in its own. */
  constructor(read: () => CpuReading = readCpus) {
    this.read = read;
    this.last = read();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  get available(): boolean {
    return this.spare;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the machine's idle time since the last sample (the timer calls it every SAMPLE_MS). */
  sample(): void {
    const now = this.read();
    const total = now.total - this.last.total;
    if (total > 0) {
      this.spare = stillSpare(this.spare, ((now.idle - this.last.idle) / total) * now.cores);
    }
    this.last = now;
  }
}

/** Whether a core counts as spare after an interval with `idleCores` idle, given the answer before it. */
export function stillSpare(spare: boolean, idleCores: number): boolean {
  return spare ? idleCores >= STOP_AT : idleCores >= START_AT;
}

/** Milliseconds every core has spent, idle and in all, since boot; and how many cores. */
export interface CpuReading {
  idle: number;
  total: number;
  cores: number;
}

function readCpus(): CpuReading {
  let idle = 0;
  let total = 0;
  const all = cpus();
  for (const { times } of all) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total, cores: all.length };
}
