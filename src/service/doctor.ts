import { readFileSync, statSync } from 'node:fs';
import type { ServerKeyRecord } from '../core/account-records.ts';
import { isPostgresUrl } from '../core/database-url.ts';
import {
  audiencesCheck,
  clockCheck,
  configCheck,
  listenCheck,
  redisCheck,
  schemaCheck,
  sessionKeyCheck,
  storeCheck,
} from '../core/doctor-checks.ts';
import { databaseFileCheck, pepperFileCheck, secretFileCheck } from '../core/doctor-file-checks.ts';
import type {
  CheckResult,
  ClockComparison,
  DoctorSettings,
  FileReading,
  RedisReading,
  ServerKeyInfo,
  StoreReading,
} from '../core/doctor-readings.ts';
import { redactPassword, redactUrl } from '../core/redact-url.ts';
import type { Clock } from '../core/time.ts';
import type { StoreProbe } from '../store/probe-rows.ts';
import { probeStore } from '../store/store-probe.ts';
import { isPlaintextKey, KeySeal } from './key-seal.ts';

/** How long the doctor waits for PostgreSQL to accept a connection, as the store does. */
const POSTGRES_TIMEOUT_MS = 5000;

/**
 * Checks what `keygate serve` would meet with these settings, changing nothing: the store is
 * looked at without migrating (a missing SQLite file is reported, never made), the secret file is
 * read only to try it on the active session key, and Redis gets PING, INFO and TIME. Every URL
 * shown has its password replaced.
 */
export async function runDoctor(settings: DoctorSettings, clock: Clock): Promise<CheckResult[]> {
  const dialect = isPostgresUrl(settings.database) ? 'postgres' : 'sqlite';
  const [probe, redis] = await Promise.all([
    probeStore(settings.database, { timeoutMs: POSTGRES_TIMEOUT_MS }),
    readRedis(settings),
  ]);
  const store = storeReading(probe, settings.database);
  const records = probe.state === 'read' ? probe.serverKeys : undefined;
  const keys = store.state === 'read' ? store.serverKeys : undefined;
  const comparisons = [probe.state === 'read' ? probe.clock : undefined, redis.clock].filter(
    (comparison): comparison is ClockComparison => comparison !== undefined,
  );
  const newest =
    records?.reduce((at, key) => Math.max(at, key.createdAt, key.retiredAt ?? 0), 0) || undefined;
  const databaseFile = dialect === 'sqlite' ? settings.database : undefined;
  const { secretFile, pepperFile } = settings;
  const secret = fileReading(secretFile.path);
  return [
    configCheck(undefined),
    storeCheck(dialect, redactUrl(settings.database), store),
    schemaCheck(store),
    databaseFileCheck(
      databaseFile,
      databaseFile === undefined ? { state: 'missing' } : fileReading(databaseFile),
    ),
    secretFileCheck(
      { ...secretFile, file: secret, opensActiveKey: opensActiveKey(secretFile.path, secret, records) },
      dialect,
      keys,
    ),
    sessionKeyCheck(store, clock()),
    pepperFileCheck(pepperFile, pepperFile === undefined ? { state: 'missing' } : fileReading(pepperFile)),
    audiencesCheck(settings.audiencesSetting, settings.audiences),
    clockCheck(comparisons, settings.leewaySeconds, clock(), newest),
    redisCheck(settings.redisUrl && redactUrl(settings.redisUrl), redis.reading, settings.redisTimeoutMs),
    listenCheck(settings.listen),
  ];
}

function storeReading(probe: StoreProbe, location: string): StoreReading {
  if (probe.state === 'unreadable')
    return { state: 'unreadable', reason: redactPassword(probe.reason, location) };
  if (probe.state === 'missing') return probe;
  return { ...probe, serverKeys: probe.serverKeys?.map(keyInfo) };
}

async function readRedis(
  settings: DoctorSettings,
): Promise<{ reading: RedisReading; clock: ClockComparison | undefined }> {
  const url = settings.redisUrl;
  if (url === undefined) return { reading: { state: 'off' }, clock: undefined };
  // ioredis is loaded only when a Redis is named, as serve does.
  const { probeRedis } = await import('../store/redis-probe.ts');
  const found = await probeRedis(url, settings.redisTimeoutMs);
  if (found.reading.state !== 'down') return found;
  return { ...found, reading: { state: 'down', reason: redactPassword(found.reading.reason, url) } };
}

function keyInfo(record: ServerKeyRecord): ServerKeyInfo {
  const stored = record.sealedPrivateKey;
  const privateHalf = stored === null ? 'none' : isPlaintextKey(stored) ? 'plaintext' : 'sealed';
  return { id: record.id, status: record.status, createdAt: record.createdAt, privateHalf };
}

/** The file's metadata; its bytes are never read here. */
function fileReading(path: string): FileReading {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return { state: 'not-a-file' };
    return { state: 'present', mode: stat.mode, bytes: stat.size };
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return code === 'ENOENT' ? { state: 'missing' } : { state: 'unreadable', reason: message };
  }
}

/**
 * Whether the secret opens the active key, as serve's first step would try; undefined when there
 * is nothing to try (no sealed active key, or a file that serve would refuse before trying).
 */
function opensActiveKey(
  path: string,
  file: FileReading,
  records: readonly ServerKeyRecord[] | undefined,
): boolean | undefined {
  const active = records?.find((key) => key.status === 'active');
  const sealed = active?.sealedPrivateKey;
  if (!active || !sealed || isPlaintextKey(sealed) || file.state !== 'present' || file.bytes < 32)
    return undefined;
  let secret: Buffer;
  try {
    secret = readFileSync(path);
  } catch {
    return undefined;
  }
  try {
    new KeySeal(secret).open(active.id, sealed);
    return true;
  } catch {
    return false;
  } finally {
    secret.fill(0);
  }
}
