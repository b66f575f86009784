import { fire, type Shot, type Source } from './load.ts';
import { paced } from './paced.ts';

/** One run of the load generator, as `Generator` hands it over. */
export type GeneratorJob =
  | { mode: 'closed'; url: string; source: Source; expect: number }
  | { mode: 'paced'; url: string; authorizations: string[]; rate: number; expect: number };

export type GeneratorAnswer = { ok: true; shot: Shot } | { ok: false; error: string };

/**
 * The load generator, in a process of its own for the whole benchmark: the benchmark's process
 * holds every token set of the run, and a pause of its garbage collector would be counted as the
 * server's latency. It takes one job at a time over IPC and answers with the Shot and this
 * process's CPU time over the run; it stays up between runs, so its code is compiled once.
 */
process.on('message', (job: GeneratorJob) => {
  const before = process.cpuUsage();
  const run =
    job.mode === 'closed'
      ? fire(job.url, job.source, job.expect)
      : paced(job.url, job.authorizations, job.rate, job.expect);
  run.then(
    (shot) => {
      const used = process.cpuUsage(before);
      const answer: GeneratorAnswer = {
        ok: true,
        shot: { ...shot, generatorCpuMs: (used.user + used.system) / 1000 },
      };
      process.send?.(answer);
    },
    (error: unknown) => process.send?.({ ok: false, error: String(error) } satisfies GeneratorAnswer),
  );
});
