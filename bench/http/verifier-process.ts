import { measure } from '../harness.ts';
import { verifierVariants } from '../verify.ts';

/**
 * The in-process verifier row, run in a process of its own: the benchmark's own process holds
 * every token set and latency of the run by then, and its garbage collector charges that heap to
 * whichever variant allocates more. Timed by CPU time: both variants verify on this thread alone.
 * Prints `{"raw": ops/s, "keygate": ops/s}`.
 */
const v = await verifierVariants(2048, 2000);
// A server verifies without end, so the row is its steady state: 50 calls leave the verifier's
// JavaScript still being optimised (its first round measured half the later ones), while the
// bare crypto.verify is native from the first call.
const results = await measure([v.raw, v.keygate], {
  rounds: 7,
  opsPerRound: 2000,
  clock: 'cpu',
  warmUpOps: 3000,
});
await v.close();
process.stdout.write(
  `${JSON.stringify({ raw: results.get('raw')?.median ?? 0, keygate: results.get('keygate')?.median ?? 0 })}\n`,
);
