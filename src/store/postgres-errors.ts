/**
 * How the PostgreSQL store tells the database's failures apart from bugs, as sqlite-errors.ts does with
 * SQLite's result codes: an outage becomes StoreUnavailableError (503, retry later); a statement
 * that is wrong (bad SQL, a constraint nobody handles, a wrong type) stays an error, so that it is
 * fixed rather than passed off as an outage.
 */

/**
 * SQLSTATE classes that say the server cannot serve right now: 08 connection exception,
 * 53 insufficient resources (disk full, out of memory, too many connections), 57 operator
 * intervention (shutting down, cannot connect now, canceled), 58 system error (I/O), XX internal
 * error (corrupt data).
 */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58', 'XX']);

/** Single SQLSTATEs of the same kind from other classes. */
const UNAVAILABLE_STATES = new Set([
  '55P03', // lock_not_available: a lock held past lock_timeout, SQLite's SQLITE_BUSY
  '25006', // read_only_sql_transaction: a standby, or a server set read-only
  '40001', // serialization_failure, once the store's retries are spent
  '40P01', // deadlock_detected, likewise
  '28000', // invalid_authorization_specification: the credentials were changed on the server
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name: the database is gone
]);

/** Node's socket errors: the server is unreachable or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * What pg itself says when it has no connection to give: the server closed it, the pool waited
 * past its connection timeout, or the pool was ended (the store is closed). These carry no code.
 */
const CLIENT_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
  /^Query read timeout$/,
];

export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // A SQLSTATE: the server answered, and said why.
    if (/^[0-9A-Z]{5}$/.test(code))
      return UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_STATES.has(code);
  }
  // Trying several addresses of one host name fails with all their errors at once.
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.every(isUnavailable);
  return CLIENT_MESSAGES.some((pattern) => pattern.test(error.message));
}

/** A transaction that lost a race the server detected; run again whole, it may well succeed. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === '40001' || code === '40P01';
}

/** The name of the unique constraint `error` violated, if it is a unique violation. */
export function violatedUnique(error: unknown): string | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  return code === '23505' && typeof constraint === 'string' ? constraint : undefined;
}
