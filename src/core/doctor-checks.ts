import type {
  CheckResult,
  CheckStatus,
  ClockComparison,
  ListenSettings,
  RedisReading,
  StoreReading,
} from './doctor-readings.ts';
import { DEFAULT_POLICY } from './policy.ts';
import { isoTime, type UnixSeconds } from './time.ts';

/**
 * How old a session signing key may grow before the doctor suggests a rotation. Keygate never
 * rotates by itself and enforces no age; this is advice: a key that has signed for longer has had
 * longer to leak, and a rotation costs no session (the old key verifies until they end).
 */
export const SESSION_KEY_ROTATION_DAYS = 90;

/** Redis major version the tests run on; older ones lack nothing known, but are not tested. */
const TESTED_REDIS_MAJOR = 7;

/**
 * A clock offset under a second is never worth a line: token times are whole seconds. Past half
 * the leeway, tokens near their edges are judged differently by machines that should agree.
 */
const CLOCK_FLOOR_MS = 1000;
const CLOCK_WARN_FRACTION = 0.5;

const DAY = 86400;

/** Problem outranks warn outranks ok: the report's verdict is its worst line. */
export function worstStatus(checks: readonly CheckResult[]): CheckStatus {
  if (checks.some((c) => c.status === 'problem')) return 'problem';
  return checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
}

/** A check that needs what an earlier one could not read. */
export function notChecked(check: string, why: string): CheckResult {
  return { check, status: 'warn', detail: `Not checked: ${why}.` };
}

/** The settings themselves: `keygate serve` stops at the first one it refuses, and so does the doctor. */
export function configCheck(error: string | undefined): CheckResult {
  if (error === undefined)
    return { check: 'config', status: 'ok', detail: 'Every KEYGATE_* setting is accepted.' };
  return { check: 'config', status: 'problem', detail: `keygate serve refuses to start: ${error}` };
}

export function storeCheck(
  dialect: 'sqlite' | 'postgres',
  location: string,
  store: StoreReading,
): CheckResult {
  const check = 'store';
  if (store.state === 'missing')
    return {
      check,
      status: 'problem',
      detail: `${location} does not exist. keygate serve would make a new, empty one: if it should exist, check KEYGATE_DATABASE (a relative path is read from the working directory).`,
    };
  if (store.state === 'unreadable') {
    const what =
      dialect === 'postgres'
        ? "that the server is up and the URL's host, port, user and database name are right"
        : 'that it is a Keygate database and this user may read it';
    return { check, status: 'problem', detail: `Cannot read ${location}: ${store.reason}. Check ${what}.` };
  }
  const engine = dialect === 'postgres' ? 'PostgreSQL' : 'SQLite';
  return { check, status: 'ok', detail: `${engine} ${store.engine} at ${location}.` };
}

/** Behind is what every upgrade looks like before its first start; ahead means a newer Keygate wrote it. */
export function schemaCheck(store: StoreReading): CheckResult {
  const check = 'schema';
  if (store.state !== 'read') return notChecked(check, 'the store cannot be read');
  const { version, latest } = store;
  if (version > latest)
    return {
      check,
      status: 'problem',
      detail: `Ahead: the database was migrated by a newer Keygate (version ${version}; this one knows ${latest}). Run that version or a later one: this one refuses to open it.`,
    };
  if (version === 0)
    return {
      check,
      status: 'warn',
      detail: `Empty (behind by ${latest}): keygate serve creates the schema at its first start.`,
    };
  if (version < latest)
    return {
      check,
      status: 'warn',
      detail: `Behind by ${latest - version} (version ${version} of ${latest}): the next keygate serve migrates it before it listens; back up the database first.`,
    };
  return { check, status: 'ok', detail: `Version ${version}, the newest this Keygate knows.` };
}

/** The key sessions are signed with: its age, and whether an older Keygate left it in plaintext. */
export function sessionKeyCheck(store: StoreReading, now: UnixSeconds): CheckResult {
  const check = 'session key';
  if (store.state !== 'read') return notChecked(check, 'the store cannot be read');
  const keys = store.serverKeys;
  if (keys === undefined) return notChecked(check, 'the schema is not at the version this Keygate knows');
  const active = keys.find((key) => key.status === 'active');
  if (!active)
    return { check, status: 'ok', detail: 'None yet: keygate serve makes one at its first start.' };
  const days = Math.floor(Math.max(0, now - active.createdAt) / DAY);
  const made = `${active.id} made ${isoTime(active.createdAt)} (${days} ${days === 1 ? 'day' : 'days'} ago)`;
  if (active.privateHalf === 'plaintext')
    return {
      check,
      status: 'warn',
      detail: `${made} is stored in plaintext by an older Keygate: keygate serve seals it at its next start; then run keygate server-key rotate, since copies of the database hold it.`,
    };
  if (now - active.createdAt > SESSION_KEY_ROTATION_DAYS * DAY)
    return {
      check,
      status: 'warn',
      detail: `${made}, older than ${SESSION_KEY_ROTATION_DAYS} days: run keygate server-key rotate (sessions it signed stay valid until they end).`,
    };
  const retired = keys.length - 1;
  const others = retired === 0 ? '' : `; ${retired} retired still verifying`;
  return { check, status: 'ok', detail: `${made}${others}.` };
}

/**
 * This machine's clock against the shared ones: nodes that disagree judge `iat` and `exp` near
 * the leeway differently, and Redis expires replay bindings by its own clock. A record the store
 * says was made in this machine's future means this clock went back.
 */
export function clockCheck(
  comparisons: readonly ClockComparison[],
  leewaySeconds: number,
  now: UnixSeconds,
  newestRecordAt: UnixSeconds | undefined,
): CheckResult {
  const check = 'clock';
  if (newestRecordAt !== undefined && newestRecordAt > now + leewaySeconds)
    return {
      check,
      status: 'problem',
      detail: `This machine's clock (${isoTime(now)}) is behind a session key the store says was made at ${isoTime(newestRecordAt)}: set the clock right (NTP).`,
    };
  const leewayMs = leewaySeconds * 1000;
  const lines: string[] = [];
  let status: CheckStatus = 'ok';
  for (const { against, offsetMs, uncertaintyMs } of comparisons) {
    const apart = Math.max(0, Math.abs(offsetMs) - uncertaintyMs);
    const ahead = offsetMs > 0 ? 'ahead of' : 'behind';
    if (apart > Math.max(CLOCK_FLOOR_MS, leewayMs)) status = 'problem';
    else if (apart > Math.max(CLOCK_FLOOR_MS, leewayMs * CLOCK_WARN_FRACTION) && status === 'ok')
      status = 'warn';
    lines.push(
      apart > CLOCK_FLOOR_MS
        ? `${against} is ${(Math.abs(offsetMs) / 1000).toFixed(1)} s ${ahead} this machine`
        : `${against} agrees within a second`,
    );
  }
  if (lines.length === 0)
    return {
      check,
      status,
      detail:
        "No other clock to compare with: SQLite shares this machine's, and PostgreSQL and Redis are compared only when they answer.",
    };
  const advice = status === 'ok' ? '' : ': run NTP on every machine';
  return { check, status, detail: `${lines.join('; ')} (leeway ${leewaySeconds} s)${advice}.` };
}

export function redisCheck(
  location: string | undefined,
  redis: RedisReading,
  timeoutMs: number,
): CheckResult {
  const check = 'redis';
  if (redis.state === 'off' || location === undefined)
    return {
      check,
      status: 'ok',
      detail:
        'Not configured (KEYGATE_REDIS_URL unset): the replay ledger is in the store, rate limits in each process.',
    };
  if (redis.state === 'down')
    return {
      check,
      status: 'problem',
      detail: `${location} did not answer PING within ${timeoutMs} ms: ${redis.reason}. Fresh tokens and logins get 503 until it does; check that Redis is up and KEYGATE_REDIS_URL.`,
    };
  const major = Number(redis.version.split('.')[0]);
  const answered = `Redis ${redis.version} at ${location} answered PING in ${redis.roundTripMs} ms`;
  if (!(major >= TESTED_REDIS_MAJOR))
    return {
      check,
      status: 'warn',
      detail: `${answered}; Keygate is tested on Redis ${TESTED_REDIS_MAJOR}: upgrade it.`,
    };
  return { check, status: 'ok', detail: `${answered}.` };
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/i;

/** Whether an audience is what a client can put in `aud` and mean this API: a host name or an http(s) URL. */
function wellFormedAudience(audience: string): boolean {
  return HOST_NAME.test(audience) || (/^https?:\/\/[^\s]+$/.test(audience) && URL.canParse(audience));
}

/** `raw` is KEYGATE_AUDIENCES as set (undefined when unset), `audiences` the list serve uses. */
export function audiencesCheck(raw: string | undefined, audiences: readonly string[]): CheckResult {
  const check = 'audiences';
  if (raw === undefined)
    return {
      check,
      status: 'warn',
      detail: `KEYGATE_AUDIENCES is unset, so ${DEFAULT_POLICY.audiences.join(', ')} is accepted: set it to your API's host (this region's first).`,
    };
  const odd = audiences.filter((audience) => !wellFormedAudience(audience));
  if (odd.length > 0)
    return {
      check,
      status: 'warn',
      detail: `${odd.map((a) => JSON.stringify(a)).join(', ')}: neither a host name nor an http(s) URL; a token's aud must equal one exactly.`,
    };
  const repeated = audiences.filter((audience, i) => audiences.indexOf(audience) !== i);
  if (repeated.length > 0)
    return { check, status: 'warn', detail: `${[...new Set(repeated)].join(', ')} listed twice.` };
  const region = audiences.length > 1 ? ` (this region: ${audiences[0]})` : '';
  return { check, status: 'ok', detail: `${audiences.join(', ')}${region}.` };
}

const LOOPBACK = /^(127\.|::1$|localhost$|::ffff:127\.)/i;

/** How the listening address and the trusted proxies fit together. */
export function listenCheck(settings: ListenSettings): CheckResult {
  const check = 'listen';
  const { host, port, trustProxy } = settings;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const notes: string[] = [];
  const local = LOOPBACK.test(host);
  if (!local && trustProxy.length === 0)
    notes.push(
      `listens beyond this machine with KEYGATE_TRUST_PROXY unset: behind a proxy every client counts as the proxy's address for the rate limits; set it to the proxy's addresses (fine as it is if clients connect directly)`,
    );
  const remote = trustProxy.filter((entry) => !LOOPBACK.test(entry));
  if (local && remote.length > 0)
    notes.push(`KEYGATE_TRUST_PROXY names ${remote.join(', ')}, which cannot reach a loopback address`);
  if (trustProxy.length > 0 && settings.maxConnectionsPerAddress !== 0)
    notes.push(
      'behind a proxy every client has its address: set KEYGATE_MAX_CONNECTIONS_PER_ADDRESS=0, or the proxy is refused past its cap',
    );
  if (notes.length === 0) return { check, status: 'ok', detail: `${where}.` };
  return { check, status: 'warn', detail: `${where} ${notes.join('; ')}.` };
}
