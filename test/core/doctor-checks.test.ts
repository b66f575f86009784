import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  audiencesCheck,
  clockCheck,
  listenCheck,
  redisCheck,
  SESSION_KEY_ROTATION_DAYS,
  schemaCheck,
  sessionKeyCheck,
  worstStatus,
} from '../../src/core/doctor-checks.ts';
import type { CheckResult, ServerKeyInfo, StoreReading } from '../../src/core/doctor-readings.ts';
import { redactPassword, redactUrl } from '../../src/core/redact-url.ts';

// The doctor's verdicts: given readings, ok, warn or problem, and what to do. No I/O here.

const NOW = 1_800_000_000;
const DAY = 86400;

const read = (version: number, serverKeys?: ServerKeyInfo[]): StoreReading => ({
  state: 'read',
  version,
  latest: 7,
  engine: '3.50.0',
  serverKeys,
  clock: undefined,
});

test('the report is as bad as its worst line', () => {
  const line = (status: CheckResult['status']): CheckResult => ({ check: 'x', status, detail: '' });
  assert.equal(worstStatus([]), 'ok');
  assert.equal(worstStatus([line('ok'), line('ok')]), 'ok');
  assert.equal(worstStatus([line('ok'), line('warn')]), 'warn');
  assert.equal(worstStatus([line('warn'), line('problem'), line('ok')]), 'problem');
});

test('schema: current ok, behind and empty a warning (serve migrates), ahead a problem', () => {
  const cases: [StoreReading, CheckResult['status'], string][] = [
    [read(7), 'ok', 'Version 7, the newest this Keygate knows.'],
    [
      read(5),
      'warn',
      'Behind by 2 (version 5 of 7): the next keygate serve migrates it before it listens; back up the database first.',
    ],
    [read(0), 'warn', 'Empty (behind by 7): keygate serve creates the schema at its first start.'],
    [
      read(8),
      'problem',
      'Ahead: the database was migrated by a newer Keygate (version 8; this one knows 7). Run that version or a later one: this one refuses to open it.',
    ],
    [{ state: 'missing' }, 'warn', 'Not checked: the store cannot be read.'],
    [{ state: 'unreadable', reason: 'x' }, 'warn', 'Not checked: the store cannot be read.'],
  ];
  for (const [reading, status, detail] of cases)
    assert.deepEqual(schemaCheck(reading), { check: 'schema', status, detail });
});

test('session key: none yet is fine; older than the rotation advice or in plaintext is a warning', () => {
  const key = (days: number, privateHalf: ServerKeyInfo['privateHalf'] = 'sealed'): ServerKeyInfo => ({
    id: 'k1',
    status: 'active',
    createdAt: NOW - days * DAY,
    privateHalf,
  });
  const retired: ServerKeyInfo = {
    id: 'k0',
    status: 'retired',
    createdAt: NOW - 200 * DAY,
    privateHalf: 'none',
  };
  assert.equal(SESSION_KEY_ROTATION_DAYS, 90);
  assert.deepEqual(sessionKeyCheck(read(7, []), NOW), {
    check: 'session key',
    status: 'ok',
    detail: 'None yet: keygate serve makes one at its first start.',
  });
  assert.deepEqual(sessionKeyCheck(read(7, [retired, key(90)]), NOW), {
    check: 'session key',
    status: 'ok',
    detail: 'k1 made 2026-10-17T08:00:00Z (90 days ago); 1 retired still verifying.',
  });
  assert.deepEqual(sessionKeyCheck(read(7, [key(91)]), NOW), {
    check: 'session key',
    status: 'warn',
    detail:
      'k1 made 2026-10-16T08:00:00Z (91 days ago), older than 90 days: run keygate server-key rotate (sessions it signed stay valid until they end).',
  });
  assert.deepEqual(sessionKeyCheck(read(7, [key(1, 'plaintext')]), NOW), {
    check: 'session key',
    status: 'warn',
    detail:
      'k1 made 2027-01-14T08:00:00Z (1 day ago) is stored in plaintext by an older Keygate: keygate serve seals it at its next start; then run keygate server-key rotate, since copies of the database hold it.',
  });
  assert.equal(
    sessionKeyCheck(read(5), NOW).detail,
    'Not checked: the schema is not at the version this Keygate knows.',
  );
});

test('clock: within a second is agreement; past half the leeway a warning, past the leeway a problem', () => {
  const against = (offsetMs: number, uncertaintyMs = 0) => [
    { against: 'PostgreSQL', offsetMs, uncertaintyMs },
  ];
  const verdict = (offsetMs: number, leeway = 60, uncertaintyMs = 0) => {
    const { status, detail } = clockCheck(against(offsetMs, uncertaintyMs), leeway, NOW, undefined);
    return [status, detail];
  };
  assert.deepEqual(verdict(800), ['ok', 'PostgreSQL agrees within a second (leeway 60 s).']);
  assert.deepEqual(verdict(-30_000), ['ok', 'PostgreSQL is 30.0 s behind this machine (leeway 60 s).']);
  assert.deepEqual(verdict(30_001), [
    'warn',
    'PostgreSQL is 30.0 s ahead of this machine (leeway 60 s): run NTP on every machine.',
  ]);
  assert.deepEqual(verdict(-61_000), [
    'problem',
    'PostgreSQL is 61.0 s behind this machine (leeway 60 s): run NTP on every machine.',
  ]);
  // Half the round trip is how far off the reading may be: only what is beyond it counts.
  assert.equal(verdict(61_000, 60, 2000)[0], 'warn');
  // With no leeway, a second apart is still agreement: token times are whole seconds.
  assert.equal(verdict(900, 0)[0], 'ok');
  assert.equal(verdict(1500, 0)[0], 'problem');
  const both = clockCheck(
    [
      { against: 'PostgreSQL', offsetMs: 10, uncertaintyMs: 1 },
      { against: 'Redis', offsetMs: -40_000, uncertaintyMs: 1 },
    ],
    60,
    NOW,
    undefined,
  );
  assert.deepEqual(both, {
    check: 'clock',
    status: 'warn',
    detail:
      'PostgreSQL agrees within a second; Redis is 40.0 s behind this machine (leeway 60 s): run NTP on every machine.',
  });
  assert.deepEqual(clockCheck([], 60, NOW, NOW + 61), {
    check: 'clock',
    status: 'problem',
    detail:
      "This machine's clock (2027-01-15T08:00:00Z) is behind a session key the store says was made at 2027-01-15T08:01:01Z: set the clock right (NTP).",
  });
  assert.equal(clockCheck([], 60, NOW, NOW + 60).status, 'ok');
});

test('redis: off is fine, down a problem, a version older than the tested one a warning', () => {
  assert.equal(redisCheck(undefined, { state: 'off' }, 1000).status, 'ok');
  assert.deepEqual(
    redisCheck('redis://h:6379', { state: 'down', reason: 'the connection was refused' }, 250),
    {
      check: 'redis',
      status: 'problem',
      detail:
        'redis://h:6379 did not answer PING within 250 ms: the connection was refused. Fresh tokens and logins get 503 until it does; check that Redis is up and KEYGATE_REDIS_URL.',
    },
  );
  assert.deepEqual(redisCheck('redis://h:6379', { state: 'up', version: '7.2.4', roundTripMs: 1 }, 1000), {
    check: 'redis',
    status: 'ok',
    detail: 'Redis 7.2.4 at redis://h:6379 answered PING in 1 ms.',
  });
  for (const version of ['6.2.14', 'of unknown version'])
    assert.deepEqual(redisCheck('redis://h:6379', { state: 'up', version, roundTripMs: 3 }, 1000), {
      check: 'redis',
      status: 'warn',
      detail: `Redis ${version} at redis://h:6379 answered PING in 3 ms; Keygate is tested on Redis 7: upgrade it.`,
    });
});

test('audiences: unset is the default (a warning); each must be a host name or an http(s) URL, once', () => {
  assert.deepEqual(audiencesCheck(undefined, ['api.happypathology.com']), {
    check: 'audiences',
    status: 'warn',
    detail:
      "KEYGATE_AUDIENCES is unset, so api.happypathology.com is accepted: set it to your API's host (this region's first).",
  });
  assert.deepEqual(audiencesCheck('a', ['api.example.com', 'https://eu.example.com/v1', 'localhost:8443']), {
    check: 'audiences',
    status: 'ok',
    detail: 'api.example.com, https://eu.example.com/v1, localhost:8443 (this region: api.example.com).',
  });
  for (const odd of ['api example.com', 'ftp://x.example.com', 'api_example.com', '-api.example.com'])
    assert.deepEqual(audiencesCheck(odd, ['api.example.com', odd]), {
      check: 'audiences',
      status: 'warn',
      detail: `${JSON.stringify(odd)}: neither a host name nor an http(s) URL; a token's aud must equal one exactly.`,
    });
  assert.deepEqual(audiencesCheck('x', ['a.example.com', 'b.example.com', 'a.example.com']), {
    check: 'audiences',
    status: 'warn',
    detail: 'a.example.com listed twice.',
  });
});

test('listen: all interfaces with no trusted proxy, a loopback address behind a remote proxy, and a per-address cap behind a proxy are warnings', () => {
  const listen = (host: string, trustProxy: string[] = [], maxConnectionsPerAddress = 256) =>
    listenCheck({ host, port: 8080, trustProxy, maxConnectionsPerAddress });
  assert.deepEqual(listen('127.0.0.1'), { check: 'listen', status: 'ok', detail: '127.0.0.1:8080.' });
  assert.deepEqual(listen('0.0.0.0', ['10.0.0.0/8'], 0), {
    check: 'listen',
    status: 'ok',
    detail: '0.0.0.0:8080.',
  });
  assert.deepEqual(listen('::'), {
    check: 'listen',
    status: 'warn',
    detail:
      "[::]:8080 listens beyond this machine with KEYGATE_TRUST_PROXY unset: behind a proxy every client counts as the proxy's address for the rate limits; set it to the proxy's addresses (fine as it is if clients connect directly).",
  });
  assert.deepEqual(listen('127.0.0.1', ['10.0.0.5', '127.0.0.1'], 0), {
    check: 'listen',
    status: 'warn',
    detail: '127.0.0.1:8080 KEYGATE_TRUST_PROXY names 10.0.0.5, which cannot reach a loopback address.',
  });
  assert.deepEqual(listen('0.0.0.0', ['10.0.0.0/8']), {
    check: 'listen',
    status: 'warn',
    detail:
      '0.0.0.0:8080 behind a proxy every client has its address: set KEYGATE_MAX_CONNECTIONS_PER_ADDRESS=0, or the proxy is refused past its cap.',
  });
});

test('a URL is printed without its password, and a message never quotes it', () => {
  assert.equal(
    redactUrl('postgres://keygate:s3cr%40t@db:5432/keygate'),
    'postgres://keygate:***@db:5432/keygate',
  );
  assert.equal(redactUrl('rediss://:hunter2@cache:6380/0'), 'rediss://:***@cache:6380/0');
  assert.equal(redactUrl('postgres://keygate@db/keygate'), 'postgres://keygate@db/keygate');
  assert.equal(redactUrl('./data/keygate.db'), './data/keygate.db');
  assert.equal(
    redactPassword('auth failed for s3cr@t (s3cr%40t)', 'postgres://keygate:s3cr%40t@db/keygate'),
    'auth failed for *** (***)',
  );
});
