import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { normalizeUserName } from '../core/user-name.ts';
import { jtiPair, olderBoundToken } from './sqlite-jti.ts';
import { jtiEntry } from './sqlite-jti-entries.ts';

/**
 * Opens (or makes) the database file for SqliteStore, which then migrates it. Its settings hold
 * for the connection's life; the busy timeout is the one exception, shortened once migrated.
 */
export function openDatabase(path: string): DatabaseSync {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // The file holds password hashes and the session signing key: readable by its owner only.
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000');
  // Switching to WAL takes a lock that the busy handler does not wait for; several workers
  // opening the same new file at once retry here instead of failing.
  retryWhileLocked(() => db.exec('PRAGMA journal_mode = WAL'));
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  // Deleted and overwritten content (a re-sealed signing key, replaced password hashes, ended
  // sessions) is zeroed, not left in free pages for a copy of the file to reveal.
  db.exec('PRAGMA secure_delete = ON');
  // Migration 4 stores user names normalised; SQL cannot do NFKC, so the rule is lent to it.
  db.function('keygate_user_name', { deterministic: true }, (value) => normalizeUserName(String(value)));
  // Migration 6 compacts the replay ledger with the digests the store then wrote it with.
  db.function('keygate_jti_pair', { deterministic: true }, (iss, jti) => jtiPair(String(iss), String(jti)));
  db.function('keygate_bound_token', { deterministic: true }, (tokenHash) =>
    olderBoundToken(String(tokenHash)),
  );
  // Migration 12 writes each recent binding in the layout of a row's entries.
  db.function('keygate_jti_entry', { deterministic: true }, (pair, token, expiresAt) =>
    jtiEntry(pair as Uint8Array, token as Uint8Array, Number(expiresAt)),
  );
  return db;
}

/**
 * Runs `work` again while the database is locked, for up to 5 s, blocking the thread: only while
 * the store opens, before anything is served.
 */
function retryWhileLocked(work: () => void): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      work();
      return;
    } catch (error) {
      if (!/locked|busy/i.test(String((error as Error).message)) || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
