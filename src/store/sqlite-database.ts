import type { SQLInputValue, SQLOutputValue, StatementResultingChanges } from 'node:sqlite';
import type { AuditEvent } from '../core/audit.ts';

export type Row = Record<string, SQLInputValue>;

/** A prepared statement whose every run reports database failures as StoreUnavailableError. */
export interface Statement {
  run(...params: SQLInputValue[]): StatementResultingChanges;
  get(...params: SQLInputValue[]): Record<string, SQLOutputValue> | undefined;
  all(...params: SQLInputValue[]): Record<string, SQLOutputValue>[];
}

/**
 * What SqliteStore lends the functions of its domains (sqlite-keys.ts, sqlite-accounts.ts...):
 * its units and its statements, so that the lock waits, the statement cache and the mapping of
 * failures stay in sqlite.ts, in one place.
 */
export interface SqliteDatabase {
  /** Runs `work`, which reads only, as one unit, run again whole on a lock. */
  read<T>(work: () => T): Promise<T>;
  /** Runs `work` as one unit that writes: a single statement, or a transaction. */
  write<T>(work: () => T): Promise<T>;
  /** BEGIN IMMEDIATE ... COMMIT around `work`, inside write(). */
  transaction<T>(work: () => T): T;
  /** The statement for `text`; it may run only inside read() or write(). */
  sql(text: string): Statement;
  /** Appends the events inside the transaction of the change they record. */
  audit(events: readonly AuditEvent[]): void;
}
