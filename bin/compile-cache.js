// Plain JavaScript, loaded before any TypeScript: Node strips the types of every .ts module on
// each start, and the first file it strips loads the stripper itself (about 100 ms and 17 MB of
// memory). With the compile cache on, the stripped code and V8's compiled code of every module
// come from disk instead, and the stripper is never loaded.
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { constants, enableCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Turns on Node's compile cache in a directory of this user's under the system's temporary
 * directory. NODE_COMPILE_CACHE names another directory (Node then turned it on already) and
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off. The directory is passed on in the environment so
 * that worker threads and `--workers` processes start from the same cache.
 */
export function useCompileCache() {
  if (process.env.NODE_COMPILE_CACHE) return;
  const directory = privateDirectory(tmpdir());
  if (!directory) return;
  const { ENABLED, ALREADY_ENABLED } = constants.compileCacheStatus;
  const { status } = enableCompileCache(directory);
  if (status === ENABLED || status === ALREADY_ENABLED) process.env.NODE_COMPILE_CACHE = directory;
}

/**
 * Node runs what it finds in the cache (the stripped source is stored as it is, under a CRC, not
 * a signature), so a directory another user could write would let them run code inside Keygate.
 * Only a directory owned by this user and closed to everyone else, in a parent where no one else
 * can swap it out (sticky, like /tmp, or not writable by others), is used; anything else (or a
 * system without user ids) leaves the cache off: a slower start, never someone else's code.
 * Several processes may fill it at once: Node writes each entry to a temporary file and renames
 * it into place.
 */
export function privateDirectory(root) {
  if (typeof process.getuid !== 'function') return undefined;
  const uid = process.getuid();
  const directory = join(root, `keygate-compile-cache-${uid}`);
  try {
    const parent = statSync(root);
    if ((parent.mode & 0o002) !== 0 && (parent.mode & 0o1000) === 0) return undefined;
    mkdirSync(directory, { mode: 0o700 });
  } catch (error) {
    if (error.code !== 'EEXIST') return undefined;
  }
  const stat = lstatSync(directory, { throwIfNoEntry: false });
  if (!stat?.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) return undefined;
  return directory;
}
