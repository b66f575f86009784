import pg from 'pg';
import { isRetryable, isUnavailable } from './postgres-errors.ts';
import { StoreUnavailableError } from './store.ts';

export type Row = Record<string, unknown>;

/** Runs statements: on the pool, one at a time, or on the one connection of a transaction. */
export interface Sql {
  rows(text: string, values?: readonly unknown[]): Promise<Row[]>;
  one(text: string, values?: readonly unknown[]): Promise<Row | undefined>;
  /** Returns how many rows the statement changed. */
  run(text: string, values?: readonly unknown[]): Promise<number>;
}

/** A lost race the server detected is run again whole, up to this many times in all. */
const ATTEMPTS = 5;

/**
 * Each statement is prepared once per connection under a name of its own (saving its parse and
 * plan on every later run): the name stands for the text, process-wide, so it never names two.
 */
const statementNames = new Map<string, string>();

function statement(text: string, values: readonly unknown[] = []): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `keygate_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values: [...values] };
}

function sqlOn(client: pg.Pool | pg.PoolClient): Sql {
  return {
    rows: async (text, values) => (await client.query(statement(text, values))).rows,
    one: async (text, values) => (await client.query(statement(text, values))).rows[0],
    run: async (text, values) => (await client.query(statement(text, values))).rowCount ?? 0,
  };
}

/**
 * A pool of connections to one database. Every call reports the database's failures as
 * StoreUnavailableError (postgres-errors.ts) and runs again what lost a serialization or deadlock
 * race; anything else (a constraint a caller handles, a bug) passes unchanged.
 */
export class PgDatabase implements Sql {
  private readonly pool: pg.Pool;
  private readonly onPool: Sql;
  private closed = false;

  constructor(config: pg.PoolConfig) {
    this.pool = new pg.Pool(config);
    // A connection that breaks, idle or in use, emits 'error' besides failing its query; unheard,
    // that event would end the process. The pool drops the connection and makes a new one.
    this.pool.on('error', () => {});
    this.pool.on('connect', (client) => client.on('error', () => {}));
    this.onPool = sqlOn(this.pool);
  }

  rows(text: string, values?: readonly unknown[]): Promise<Row[]> {
    return this.attempt(() => this.onPool.rows(text, values));
  }

  one(text: string, values?: readonly unknown[]): Promise<Row | undefined> {
    return this.attempt(() => this.onPool.one(text, values));
  }

  run(text: string, values?: readonly unknown[]): Promise<number> {
    return this.attempt(() => this.onPool.run(text, values));
  }

  /**
   * Runs `work` in one READ COMMITTED transaction on one connection: committed whole or rolled
   * back. Atomic steps lock what they read (FOR UPDATE, advisory locks) rather than rely on a
   * stricter isolation level, which would fail and retry under the very races they must serve.
   */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.attempt(async () => {
      const client = await this.pool.connect();
      let reusable = true;
      try {
        await client.query('BEGIN');
        const result = await work(sqlOn(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is dropped, never handed on mid-transaction.
        reusable = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        throw error;
      } finally {
        client.release(!reusable);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async attempt<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (isRetryable(error) && attempt < ATTEMPTS && !this.closed) {
          // Randomised, so that the two sides of a deadlock do not meet again at once.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * 2 ** attempt));
          continue;
        }
        throw storeError(error, this.closed);
      }
    }
  }
}

/** `error` as the store reports it: StoreUnavailableError for an outage or a closed store. */
export function storeError(error: unknown, closed = false): unknown {
  if (!closed && !isUnavailable(error)) return error;
  return new StoreUnavailableError(`The PostgreSQL store failed: ${(error as Error).message}`, {
    cause: error,
  });
}
