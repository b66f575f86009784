import pg from 'pg';
import { SERVER_KEY_QUERY, toServerKey } from './account-rows.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import { reasonOf, type StoreProbe } from './probe-rows.ts';

/**
 * One connection, read-only for its whole session: the schema version from schema_migrations
 * (absent on a database no Keygate has started on), the server's clock, and the session keys.
 */
export async function probePostgres(url: string, timeoutMs: number): Promise<StoreProbe> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'keygate-doctor',
  });
  // A connection that breaks also fails the query in flight; unheard, the event would end the process.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SET default_transaction_read_only = on');
    const before = Date.now();
    const { rows } = await client.query(
      `SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS now_ms,
        current_setting('server_version') AS engine,
        to_regclass('schema_migrations') IS NOT NULL AS migrated`,
    );
    const after = Date.now();
    const info = rows[0] as { now_ms: number; engine: string; migrated: boolean };
    const version = info.migrated
      ? Number(
          (await client.query('SELECT coalesce(max(version), 0) AS version FROM schema_migrations')).rows[0]
            ?.version,
        )
      : 0;
    const latest = POSTGRES_MIGRATIONS.length;
    const serverKeys =
      version === latest ? (await client.query(SERVER_KEY_QUERY)).rows.map(toServerKey) : undefined;
    const clock = {
      against: 'PostgreSQL',
      offsetMs: Math.round(info.now_ms - (before + after) / 2),
      uncertaintyMs: Math.ceil((after - before) / 2),
    };
    return { state: 'read', version, latest, engine: info.engine, serverKeys, clock };
  } catch (error) {
    return { state: 'unreadable', reason: reasonOf(error) };
  } finally {
    await client.end().catch(() => {});
  }
}
