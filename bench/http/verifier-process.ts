import { measure } from '../harness.ts';
import { verifierVariants } from '../verify.ts';

/**
 * The in-process verifier row, run in a process of its own: the benchmark's own process holds
 * every token set and latency of the run by then, and its garbage collector charges that heap to
 * whichever variant allocates more. Timed by CPU time: both variants verify on this thread alone.
 * Prints `{"raw": ops/s, "keygate": ops/s}`.
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
await v.close();
process.stdout.write(
  `${JSON.stringify({ raw: results.get('raw')?.median ?? 0, keygate: results.get('keygate')?.median ?? 0 })}\n`,
);
