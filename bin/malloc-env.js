// Plain JavaScript, read before anything else: glibc takes its malloc settings from the
// environment once, when the process starts, so `serve` gets them by replacing its own process
// image (same pid) with one started under them.

/**
 * glibc's mmap threshold, in bytes: its default, but fixed. Left dynamic, glibc raises it the
 * first time a block it mapped is freed, up to that block's size; argon2id's 19 MiB blocks
 * (one per login, on libuv's threads) raise it to 19 MiB, and from then on every allocation
 * under that size, argon2's included, comes from per-thread arenas that keep what is freed.
 * Measured with the soak: RSS grew 71% in 200 s of mixed traffic with logins that way (and 111%
 * with MALLOC_ARENA_MAX=2, or 51% with argon2 on a thread of its own: the raised threshold
 * strands other allocations too). With the threshold fixed each block is mapped and unmapped
 * whole, and the memory outside the JavaScript heap stayed level over 300 s.
 */
export const MMAP_THRESHOLD = '131072';

/**
 * The environment `keygate serve` should run with, or undefined when the current one will do:
 * for any other command (each ends in seconds), when the threshold is already set (by a
 * previous start or by the operator, whose setting stands), and off Linux.
 */
export function serveEnvironment(argv, env, platform = process.platform) {
  if (argv[2] !== 'serve' || platform !== 'linux') return undefined;
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined) return undefined;
  if (/\bglibc\.malloc\.mmap_threshold=/.test(env.GLIBC_TUNABLES ?? '')) return undefined;
  return { ...env, MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD };
}
