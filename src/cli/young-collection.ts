import { setFlagsFromString } from 'node:v8';

/**
 * Has V8 collect the young generation on the event loop's thread alone, for a process that
 * serves requests: unless the operator asked for parallel scavenges on Node's command line
 * (`node --parallel-scavenge`), whose choice stands. Returns whether it did.
 *
 * Why: by default the thread that stops for a scavenge hands parts of it to V8's helper threads
 * and waits for them all. On a machine whose cores are busy (a two-core host running the server
 * beside its load, its store's checkpoint thread and libuv's pool) a helper is often not running
 * when its part comes up, and the pause is the wait: measured with `--trace-gc-nvp`, fresh
 * RS256-2048 tokens paced at 6,000 a second, pauses of 1.5-3.4 ms in which the scavenge itself
 * took under 0.1 ms. On the loop's thread alone, over twelve interleaved rounds a side, pauses
 * averaged 0.79 against 0.99 ms (38 against 59 over 1 ms), the p99 was 5.13 against 7.23 ms, and
 * the server spent 89 against 94 us of CPU a fresh token at the same rate. What survives a
 * scavenge here is a request's worth of objects, 100-200 KB: too little to gain from sharing.
 *
 * V8 reads the setting at each scavenge, so it applies from the call on; a setting given at
 * start would have to be on Node's command line, which NODE_OPTIONS may not carry.
 */
export function collectYoungOnLoopThread(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((option) => /^--parallel[-_]scavenge$/.test(option))) return false;
  setFlagsFromString('--no-parallel-scavenge');
  return true;
}
