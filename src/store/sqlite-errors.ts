// How the embedded store tells the database's failures apart from bugs (SqliteStore's guard).

/**
 * SQLite's primary result codes that say the database cannot serve right now (locked past the
 * busy timeout, out of memory or disk, read-only, I/O error, corrupt or not a database file).
 * The others (SQLITE_ERROR for bad SQL, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE,
 * SQLITE_MISUSE...) mean a statement is wrong: a bug, which must not pass for an outage.
 */
const UNAVAILABLE_RESULT_CODES = new Set([
  3, // SQLITE_PERM
  5, // SQLITE_BUSY
  6, // SQLITE_LOCKED
  7, // SQLITE_NOMEM
  8, // SQLITE_READONLY
  10, // SQLITE_IOERR
  11, // SQLITE_CORRUPT
  13, // SQLITE_FULL
  14, // SQLITE_CANTOPEN
  15, // SQLITE_PROTOCOL
  17, // SQLITE_SCHEMA
  22, // SQLITE_NOLFS
  26, // SQLITE_NOTADB
]);

export function isUnavailable(error: unknown): boolean {
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  // node:sqlite gives SQLite's extended result code; its low byte is the primary one.
  return (
    code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && UNAVAILABLE_RESULT_CODES.has(errcode & 0xff)
  );
}
