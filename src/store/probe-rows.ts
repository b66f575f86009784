import type { ServerKeyRecord } from '../core/account-records.ts';
import type { ClockComparison } from '../core/doctor-readings.ts';

// What the doctor's probes of either store (store-probe.ts, postgres-probe.ts) and of Redis share.

/** What a look at the store found, without migrating it, writing to it or creating it. */
export type StoreProbe =
  | { state: 'missing' }
  | { state: 'unreadable'; reason: string }
  | {
      state: 'read';
      version: number;
      latest: number;
      engine: string;
      /** Read only at the newest schema: another version's table may lack the columns. */
      serverKeys: ServerKeyRecord[] | undefined;
      /** The database server's clock against this machine's; SQLite has none of its own. */
      clock: ClockComparison | undefined;
    };

export const SERVER_KEY_QUERY =
  'SELECT id, sealed_private_key, public_jwk, status, created_at, retired_at FROM server_keys ORDER BY created_at, id';

/** A server_keys row of either dialect: the columns are the same. */
export function toServerKeyRecord(row: Record<string, unknown>): ServerKeyRecord {
  return {
    id: String(row.id),
    sealedPrivateKey: row.sealed_private_key === null ? null : String(row.sealed_private_key),
    publicJwk: String(row.public_jwk),
    status: String(row.status) as ServerKeyRecord['status'],
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
  };
}

/** An error's own words; a refused connection to every address of a name has none but its code. */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return error.message || (typeof code === 'string' ? code : error.name);
}
