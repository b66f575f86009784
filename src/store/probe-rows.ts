import type { ServerKeyRecord } from '../core/account-records.ts';
import type { StoreReading } from '../core/doctor-readings.ts';

// What the doctor's probes of either store (store-probe.ts, postgres-probe.ts) and of Redis share.

/** What a look at the store found, without migrating it, writing to it or creating it. */
export type StoreProbe = StoreReading<ServerKeyRecord>;

/** An error's own words; a refused connection to every address of a name has none but its code. */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return error.message || (typeof code === 'string' ? code : error.name);
}
