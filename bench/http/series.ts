import { median, percentile } from '../harness.ts';
import { inChild } from './in-child.ts';
import type { Shot, Source } from './load.ts';
import type { Server } from './servers.ts';

/** The rounds of one table row: one server, one path, one kind of request. */
export class Series {
  readonly server: Server;
  readonly rps: number[] = [];
  readonly latencies: number[] = [];
  /** The server's resident memory after this row's latest round. */
  rss = Number.NaN;
  /** Which interleave() ran its rounds: rounds of one run are compared round by round. */
  run: number | undefined;
  /** Server CPU time over the rounds, all its threads: less sensitive to a busy machine than a rate. */
  private cpuMs = 0;
  /** The event loop's CPU time over the rounds: what the rate waits on once the loop is saturated. */
  private loopCpuMs = 0;
  /** The load generator's CPU time over the rounds (its own process): its cost of the same requests. */
  private generatorCpuMs = 0;

  constructor(server: Server) {
    this.server = server;
  }

  /** Runs one round and records it. */
  async round(run: () => Promise<Shot>): Promise<void> {
    const cpuBefore = this.server.cpuMs();
    const loopBefore = this.server.loopCpuMs();
    let shot: Shot;
    try {
      shot = await run();
    } catch (error) {
      // An answer of the wrong status: what the server logged says why (Keygate logs at warn).
      const said = this.server.stderrTail().trim();
      throw new Error(
        `${this.server.name}: ${(error as Error).message}${said ? `\nits stderr, last lines:\n${said}` : ''}`,
      );
    }
    this.cpuMs += this.server.cpuMs() - cpuBefore;
    this.loopCpuMs += this.server.loopCpuMs() - loopBefore;
    this.generatorCpuMs += shot.generatorCpuMs ?? Number.NaN;
    this.rps.push(shot.rps);
    for (const ms of shot.latencies) this.latencies.push(ms);
    this.rss = this.server.rssMb();
  }

  /** Median of the rounds' rates. */
  get rate(): number {
    return median(this.rps);
  }

  /**
   * The lowest and highest ratio of this row's rounds to `base`'s, each round to the one run
   * beside it; undefined unless both ran in the same interleave(). On a shared machine whose
   * speed drifts from one minute to the next, rounds run a second apart share their conditions,
   * and the spread of their ratios shows how far one run's ratio can be trusted.
   */
  roundRatios(base: Series): [low: number, high: number] | undefined {
    if (base === this || this.run === undefined || base.run !== this.run) return undefined;
    if (this.rps.length !== base.rps.length || this.rps.length < 2) return undefined;
    const ratios = this.rps.map((rate, i) => rate / (base.rps[i] as number)).sort((a, b) => a - b);
    return [ratios[0] as number, ratios[ratios.length - 1] as number];
  }

  /** Over every request of every round. */
  p(at: number): number {
    return percentile(this.latencies, at);
  }

  /** Microseconds of server CPU (all its threads) per request. */
  get serverCpuUs(): number {
    return (this.cpuMs * 1000) / this.latencies.length;
  }

  /** Microseconds of the event loop's CPU (each server process's main thread) per request. */
  get loopCpuUs(): number {
    return (this.loopCpuMs * 1000) / this.latencies.length;
  }

  /** Microseconds of the load generator's CPU per request. */
  get generatorCpuUs(): number {
    return (this.generatorCpuMs * 1000) / this.latencies.length;
  }

  /** The p50, p99, server CPU, event loop CPU and RSS columns; a row that takes its p99 otherwise gives it. */
  cells(p99 = this.p(99)): string[] {
    return [
      `${this.p(50).toFixed(2)} ms`,
      `${p99.toFixed(2)} ms`,
      `${this.serverCpuUs.toFixed(0)} us`,
      `${this.loopCpuUs.toFixed(0)} us`,
      `${this.rss.toFixed(0)} MB`,
    ];
  }
}

export interface Load {
  series: Series;
  path: string;
  /** The requests of one round. */
  source: (round: number) => Source;
  expect: number;
}

let runs = 0;

/**
 * Runs every load once per round, in reverse order on odd rounds, so that noise from the shared
 * machine and drift over the run fall on all of them alike.
 */
export async function interleave(loads: Load[], rounds: number): Promise<void> {
  const run = ++runs;
  for (const load of loads) load.series.run = run;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? loads : [...loads].reverse();
    for (const load of order) {
      await load.series.round(() =>
        inChild({
          mode: 'closed',
          url: `${load.series.server.url}${load.path}`,
          source: load.source(round),
          expect: load.expect,
        }),
      );
    }
  }
}
