import type { UnixSeconds } from './time.ts';

/**
 * What `keygate doctor` reads of a deployment, gathered by service/doctor.ts and judged by
 * doctor-checks.ts. Shared here, at the lowest layer that uses them, by the store's probes too.
 */

export type CheckStatus = 'ok' | 'warn' | 'problem';

/** One line of the report: what was checked, how it stands, and what to do about it. */
export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
}

/** A session signing key as the store holds it; the sealed private half stays in the service. */
export interface ServerKeyInfo {
  id: string;
  status: 'active' | 'retired';
  createdAt: UnixSeconds;
  /** How the private half is stored: sealed under the secret, plaintext (an older Keygate), or dropped (retired). */
  privateHalf: 'sealed' | 'plaintext' | 'none';
}

/**
 * The store, read without migrating it or creating anything. The store's probes hand over its
 * server keys as records (`StoreReading<ServerKeyRecord>`, probe-rows.ts); the service keeps
 * their sealed halves and passes on what the checks judge.
 */
export type StoreReading<Key = ServerKeyInfo> =
  | { state: 'missing' }
  | { state: 'unreadable'; reason: string }
  | {
      state: 'read';
      /** The schema version the database is at. */
      version: number;
      /** The newest version this Keygate's migrations know. */
      latest: number;
      /** The database server's own version (PostgreSQL), or SQLite's library version. */
      engine: string;
      /** Read only when the schema is at `latest`: an older or newer table may not have the columns. */
      serverKeys: Key[] | undefined;
      /** The database server's clock against this machine's; SQLite has none of its own. */
      clock: ClockComparison | undefined;
    };

/** A file the deployment names, by its metadata only. */
export type FileReading =
  | { state: 'missing' }
  | { state: 'not-a-file' }
  | { state: 'unreadable'; reason: string }
  | { state: 'present'; mode: number; bytes: number };

export interface SecretReading {
  path: string;
  /** Named by KEYGATE_SECRET_FILE, rather than the default beside the database. */
  configured: boolean;
  file: FileReading;
  /** Whether the active session key opens with this file's bytes; undefined when not tried. */
  opensActiveKey: boolean | undefined;
}

export type RedisReading =
  | { state: 'off' }
  | { state: 'down'; reason: string }
  | { state: 'up'; version: string; roundTripMs: number };

/** This machine's clock against another's, read halfway through a round trip. */
export interface ClockComparison {
  against: string;
  /** Their clock minus ours, in milliseconds. */
  offsetMs: number;
  /** Half the round trip: how far off the reading itself may be. */
  uncertaintyMs: number;
}

export interface ListenSettings {
  host: string;
  port: number;
  trustProxy: readonly string[];
  maxConnectionsPerAddress: number;
}

/** What the doctor is told of the deployment: the settings `keygate serve` would run with. */
export interface DoctorSettings {
  /** KEYGATE_DATABASE: a SQLite path or a postgres:// URL. */
  database: string;
  /** KEYGATE_SECRET_FILE when set (configured), else the file beside a SQLite database. */
  secretFile: { path: string; configured: boolean };
  pepperFile: string | undefined;
  redisUrl: string | undefined;
  redisTimeoutMs: number;
  leewaySeconds: number;
  /** KEYGATE_AUDIENCES as set, undefined when unset; `audiences` is the list serve uses. */
  audiencesSetting: string | undefined;
  audiences: readonly string[];
  listen: ListenSettings;
}
