import type { CheckResult, FileReading, SecretReading, ServerKeyInfo } from './doctor-readings.ts';

/** The bytes `keygate serve` wants in the secret file (config.ts). */
const SECRET_MIN_BYTES = 32;
/** And in the pepper file. */
const PEPPER_MIN_BYTES = 16;

/** Permission bits for the group and everyone else: none may be set on a file holding secrets. */
const OTHERS = 0o077;

const octal = (mode: number) => (mode & 0o777).toString(8);

/** A file that is not there, not a file, or cannot be looked at, in the same words for every check. */
function unusable(
  check: string,
  path: string,
  file: Exclude<FileReading, { state: 'present' }>,
): CheckResult {
  const detail = {
    missing: `${path} does not exist.`,
    'not-a-file': `${path} is not a regular file: name a file.`,
    unreadable: `Cannot look at ${path}: ${file.state === 'unreadable' ? file.reason : ''}.`,
  }[file.state];
  return { check, status: 'problem', detail };
}

/**
 * The SQLite file holds password hashes, the key registry and sealed session keys: readable by
 * others it gives away the hashes to guess offline. Keygate makes it 0600 and sets it so at each
 * open, so other bits mean someone changed it since: a warning, as the secrets in it are sealed.
 */
export function databaseFileCheck(path: string | undefined, file: FileReading): CheckResult {
  const check = 'database file';
  if (path === undefined)
    return { check, status: 'ok', detail: 'PostgreSQL: no database file on this machine.' };
  if (file.state === 'missing')
    return { check, status: 'warn', detail: 'Not checked: the file does not exist.' };
  if (file.state !== 'present') return unusable(check, path, file);
  if ((file.mode & OTHERS) !== 0)
    return {
      check,
      status: 'warn',
      detail: `${path} is mode ${octal(file.mode)}, readable by others (password hashes, keys): chmod 600 ${path}.`,
    };
  return { check, status: 'ok', detail: `${path}, mode ${octal(file.mode)}.` };
}

/**
 * The secret file seals the session signing keys. `keygate serve` refuses one that others can
 * read or that is too short, and one that does not open the active key; a missing default file it
 * makes anew, which is harmless on a fresh install and fatal when the store already holds a key
 * sealed under the lost one.
 */
export function secretFileCheck(
  secret: SecretReading,
  dialect: 'sqlite' | 'postgres',
  serverKeys: readonly ServerKeyInfo[] | undefined,
): CheckResult {
  const check = 'secret file';
  const { path, file } = secret;
  if (!secret.configured && dialect === 'postgres')
    return {
      check,
      status: 'problem',
      detail:
        'KEYGATE_SECRET_FILE is unset: a PostgreSQL store needs it (the same file on every node), and keygate serve refuses to start without it.',
    };
  if (file.state === 'missing') {
    if (secret.configured)
      return {
        check,
        status: 'problem',
        detail: `KEYGATE_SECRET_FILE=${path} does not exist: keygate serve refuses to start. Restore it from a backup or another node.`,
      };
    if (serverKeys?.some((key) => key.privateHalf === 'sealed'))
      return {
        check,
        status: 'problem',
        detail: `${path} does not exist, yet the store holds a session key sealed under it: keygate serve would make a new secret and refuse to start. Restore the file from a backup (or set KEYGATE_SECRET_FILE to where it is).`,
      };
    return {
      check,
      status: 'ok',
      detail: `${path} not made yet: keygate serve makes it at its first start.`,
    };
  }
  if (file.state !== 'present') return unusable(check, path, file);
  if ((file.mode & OTHERS) !== 0)
    return {
      check,
      status: 'problem',
      detail: `${path} is mode ${octal(file.mode)}, readable by others: keygate serve refuses to start. chmod 600 ${path}, and since others could read it, run keygate server-key rotate.`,
    };
  if (file.bytes < SECRET_MIN_BYTES)
    return {
      check,
      status: 'problem',
      detail: `${path} holds ${file.bytes} bytes: keygate serve wants at least ${SECRET_MIN_BYTES} random bytes.`,
    };
  if (secret.opensActiveKey === false)
    return {
      check,
      status: 'problem',
      detail: `${path} does not open the active session key: the store was set up with another secret file. Use the one it was first started with.`,
    };
  const opens = secret.opensActiveKey ? ', opens the active session key' : '';
  return { check, status: 'ok', detail: `${path}, mode ${octal(file.mode)}${opens}.` };
}

/** KEYGATE_PEPPER_FILE, when set, must be there, private and long enough, or serve refuses to start. */
export function pepperFileCheck(path: string | undefined, file: FileReading): CheckResult {
  const check = 'pepper file';
  if (path === undefined)
    return { check, status: 'ok', detail: 'Not configured (KEYGATE_PEPPER_FILE unset): no pepper.' };
  if (file.state === 'missing')
    return {
      check,
      status: 'problem',
      detail: `KEYGATE_PEPPER_FILE=${path} does not exist: keygate serve refuses to start, and without it no password verifies.`,
    };
  if (file.state !== 'present') return unusable(check, path, file);
  if ((file.mode & OTHERS) !== 0)
    return {
      check,
      status: 'problem',
      detail: `${path} is mode ${octal(file.mode)}, readable by others: keygate serve refuses to start. chmod 600 ${path}.`,
    };
  if (file.bytes < PEPPER_MIN_BYTES)
    return {
      check,
      status: 'problem',
      detail: `${path} holds ${file.bytes} bytes: keygate serve wants at least ${PEPPER_MIN_BYTES} random bytes.`,
    };
  return { check, status: 'ok', detail: `${path}, mode ${octal(file.mode)}.` };
}
