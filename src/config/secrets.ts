import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { isPostgresUrl } from '../core/database-url.ts';
import { ConfigError } from './values.ts';

/** Reads the pepper named by KEYGATE_PEPPER_FILE; refuses a file others can read. */
export function readPepper(path: string | undefined): Buffer | undefined {
  return path ? readSecretFile(path, `KEYGATE_PEPPER_FILE=${path}`, 16) : undefined;
}

/** Bytes of a secret file Keygate makes itself. */
const SECRET_BYTES = 32;

/**
 * The secret that seals session signing keys in the store (service/key-seal.ts), so that a copy
 * of the database alone holds no key that signs sessions. KEYGATE_SECRET_FILE names it; unset,
 * it is `<database>.secret`, made at first start with 32 random bytes. Either way the file must
 * be private (mode 0600) and hold at least 32 bytes. An in-memory database gets none: its keys
 * live as long as the process (the caller makes a throwaway secret).
 */
export function readSessionSecret(config: {
  secretFile: string | undefined;
  database: string;
}): Buffer | undefined {
  if (config.secretFile) return readSecretFile(config.secretFile, `KEYGATE_SECRET_FILE=${config.secretFile}`);
  if (config.database === ':memory:') return undefined;
  if (isPostgresUrl(config.database)) {
    throw new ConfigError(
      'A PostgreSQL store needs KEYGATE_SECRET_FILE: every node must use the same secret.',
    );
  }
  const path = defaultSecretPath(config.database);
  try {
    createSecretFile(path);
  } catch (error) {
    throw new ConfigError(`Cannot make the secret file ${path}: ${(error as Error).message}`);
  }
  return readSecretFile(path, `The secret file ${path} (set KEYGATE_SECRET_FILE to keep it elsewhere)`);
}

/** Where the secret file is made when KEYGATE_SECRET_FILE is unset: beside the SQLite database. */
export function defaultSecretPath(database: string): string {
  return `${database}.secret`;
}

/** Reads a secret file: a regular file that only its owner can read, of at least `minBytes`. */
function readSecretFile(path: string, name: string, minBytes = SECRET_BYTES): Buffer {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new ConfigError(`${name} cannot be read.`);
  }
  if (!stat.isFile()) throw new ConfigError(`${name} is not a file.`);
  if ((stat.mode & 0o077) !== 0) {
    throw new ConfigError(
      `${name} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it.`,
    );
  }
  const secret = readFileSync(path);
  if (secret.length < minBytes)
    throw new ConfigError(`${name} holds ${secret.length} bytes; use at least ${minBytes} random bytes.`);
  return secret;
}

/**
 * Makes the secret file unless it exists, never overwriting one: losing it would leave every
 * sealed key unreadable. The bytes are written and flushed under a temporary name with mode 0600
 * from its creation, then linked into place, which fails if the name is taken: of several
 * processes starting at once one file wins, and no process ever reads a half-written one.
 */
function createSecretFile(path: string): void {
  try {
    statSync(path);
    return;
  } catch {
    // Not there yet: make it.
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, randomBytes(SECRET_BYTES));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temp);
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
