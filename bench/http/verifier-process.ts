import { measure } from '../harness.ts';
import { verifierVariants } from '../verify.ts';

/**
 * The in-process verifier row, run in a process of its own: the benchmark's own process holds
 * every token set and latency of the run by then, and its garbage collector charges that heap to
 * whichever variant allocates more. Timed by CPU time: both variants verify on this thread alone.
 * Prints `{"raw", "keygate", "parse", "checks"}` in ops/s: the last two are the verifier's own
 * work without the signature (verify.ts).
 */
const v = await verifierVariants(2048, 2000);
// A server verifies without end, so the row is its steady state, while the bare crypto.verify is
// native from the first call. V8 is still optimising the verifier's JavaScript well past 3,000
// calls: measured, the ratio was 0.72-0.73x after 3,000 and 0.82-0.83x after 20,000 (about half
// a second of verifying, what a server under load does in its first second).
const results = await measure([v.raw, v.keygate], {
  rounds: 7,
  opsPerRound: 2000,
  clock: 'cpu',
  warmUpOps: 20_000,
});
// Twenty times as many of these, each a tenth of a verification: a round of CPU time shorter
// than the kernel's accounting tick (4 ms here) is mostly rounding.
const parts = await measure([v.parse, v.checks], {
  rounds: 7,
  opsPerRound: 40_000,
  clock: 'cpu',
  warmUpOps: 20_000,
});
for (const [name, measured] of parts) results.set(name, measured);
await v.close();
const median = (name: string) => results.get(name)?.median ?? 0;
process.stdout.write(
  `${JSON.stringify({ raw: median('raw'), keygate: median('keygate'), parse: median('parse'), checks: median('checks') })}\n`,
);
