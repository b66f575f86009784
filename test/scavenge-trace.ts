/**
 * The milliseconds V8's helper threads spent on each scavenge in `trace`, the output of a
 * process run under `--trace-gc-nvp` (one line a collection; a scavenge's says `gc=s`).
 */
export function helperMsOfScavenges(trace: string): number[] {
  return trace
    .split('\n')
    .filter((line) => line.includes(' gc=s '))
    .map((line) => Number(/background\.scavenge\.parallel=([\d.]+)/.exec(line)?.[1]));
}
