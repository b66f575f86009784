// Plain JavaScript, read before anything else. A long-running server needs settings that take
// effect only when a process starts: glibc reads its malloc settings from the environment once,
// and V8 sizes its heap from the command line. So `serve` replaces its own process image (same
// pid, nothing left to forward signals to) with one started under them.

/**
 * glibc's mmap threshold, in bytes: its default, but fixed. Left dynamic, glibc raises it the
 * first time a block it mapped is freed, up to that block's size; argon2id's 19 MiB blocks
 * (one per login, on libuv's threads) raise it to 19 MiB, and from then on every allocation
 * under that size, argon2's included, comes from per-thread arenas that keep what is freed.
 * Measured with the soak: RSS grew 71% in 200 s of mixed traffic with logins that way (and 111%
 * with MALLOC_ARENA_MAX=2, or 51% with argon2 on a thread of its own: the raised threshold
 * strands other allocations too). With the threshold fixed each block is mapped and unmapped
 * whole, and the memory outside the JavaScript heap stayed level (97-119 MB) over 300 s.
 */
export const MMAP_THRESHOLD = '131072';

/**
 * V8's young generation is two semi-spaces that grow with the allocation rate; on a machine
 * with this much memory V8 lets each reach 64 MB. Under the soak they grew from 32 to 64 MB
 * minutes in, and RSS with them (heap in use stayed at 25-50 MB). 16 MB is what V8 allowed on
 * 64-bit machines before it scaled the bound with memory.
 */
export const MAX_SEMI_SPACE_MB = '16';

/**
 * libuv's thread pool for `serve`, unless UV_THREADPOOL_SIZE is set: a thread for each password
 * hash that may run at once (PasswordHasher's default: one core fewer than the machine has) and
 * as many for signature checks: a turn's costly signatures (RS256-4096, ES256) are split between
 * the event loop and the pool (service/turn-signatures.ts), which can use no more cores than the
 * event loop leaves. libuv's default of four threads lets a two-core machine run four checks
 * beside the event loop, which every request waits on: measured when every signature could go to
 * the pool, fresh RS256-2048 tokens over HTTP, three interleaved runs each, 9.3k requests a second
 * with four threads, 10.0k with two (and 10.8k with one, which would leave checks waiting behind
 * a 65 ms password hash). libuv reads the variable when the pool first starts, which is after this.
 */
export function threadPoolSize(argv, env, cores) {
  if (argv[2] !== 'serve' || env.UV_THREADPOOL_SIZE !== undefined) return undefined;
  return String(2 * Math.max(1, cores - 1));
}

/**
 * How to start `keygate serve` instead of this process: the Node options and script arguments
 * (after the executable) and the environment, or undefined when this process will do: for any
 * other command (each ends in seconds), when both settings are given already (by a previous
 * start, or by the operator, whose own values stand), and off Linux.
 */
export function serveStart(argv, execArgv, env, platform = process.platform) {
  if (argv[2] !== 'serve' || platform !== 'linux') return undefined;
  const mallocSet =
    env.MALLOC_MMAP_THRESHOLD_ !== undefined ||
    /\bglibc\.malloc\.mmap_threshold=/.test(env.GLIBC_TUNABLES ?? '');
  const semiSpaceSet = [...execArgv, env.NODE_OPTIONS ?? ''].some((option) =>
    /--max[-_]semi[-_]space[-_]size\b/.test(option),
  );
  if (mallocSet && semiSpaceSet) return undefined;
  return {
    args: [
      ...(semiSpaceSet ? [] : [`--max-semi-space-size=${MAX_SEMI_SPACE_MB}`]),
      ...execArgv,
      ...argv.slice(1),
    ],
    env: mallocSet ? env : { ...env, MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD },
  };
}
