import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.ts';
import {
  byName,
  CONFIG_OK,
  doctor,
  keygate,
  LISTEN_OK,
  LOCAL_CLOCK,
  NO_PEPPER,
  NO_REDIS,
} from './doctor-helpers.ts';

// `keygate doctor` spawned as an operator runs it, on real SQLite files, a real PostgreSQL and a
// real Redis: exact verdicts, exit codes, and nothing created or printed that should not be.

const dir = mkdtempSync(join(tmpdir(), 'keygate-doctor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SQLITE_VERSION = (() => {
  const db = new DatabaseSync(':memory:');
  const { v } = db.prepare('SELECT sqlite_version() AS v').get() as { v: string };
  db.close();
  return v;
})();

/** A SQLite deployment made by the CLI itself: the organization migrates it, the rotation makes the secret. */
function sqliteDeployment(name: string): { settings: Record<string, string>; database: string; kid: string } {
  const database = join(dir, name, 'keygate.db');
  const settings = {
    KEYGATE_DATABASE: database,
    KEYGATE_AUDIENCES: 'api.example.com,https://eu.example.com',
  };
  assert.equal(keygate(settings, ['org', 'create', '--name', 'Acme']).code, 0);
  const rotated = keygate(settings, ['server-key', 'rotate', '--json']);
  assert.equal(rotated.code, 0, rotated.stderr);
  return { settings, database, kid: JSON.parse(rotated.stdout).kid };
}

test('a healthy SQLite deployment: every check ok, exit 0, the same report as a table and as JSON', () => {
  const { settings, database, kid } = sqliteDeployment('healthy');
  const report = doctor(settings);
  assert.equal(report.code, 0);
  assert.equal(report.status, 'ok');
  const [session] = report.checks.filter((c) => c.check === 'session key');
  assert.match(
    session?.detail ?? '',
    new RegExp(`^${kid} made \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z \\(0 days ago\\); 1 retired still verifying\\.$`),
  );
  assert.deepEqual(report.checks, [
    CONFIG_OK,
    { check: 'store', status: 'ok', detail: `SQLite ${SQLITE_VERSION} at ${database}.` },
    {
      check: 'schema',
      status: 'ok',
      detail: `Version ${SQLITE_MIGRATIONS.length}, the newest this Keygate knows.`,
    },
    { check: 'database file', status: 'ok', detail: `${database}, mode 600.` },
    {
      check: 'secret file',
      status: 'ok',
      detail: `${database}.secret, mode 600, opens the active session key.`,
    },
    { check: 'session key', status: 'ok', detail: session?.detail ?? '' },
    NO_PEPPER,
    {
      check: 'audiences',
      status: 'ok',
      detail: 'api.example.com, https://eu.example.com (this region: api.example.com).',
    },
    LOCAL_CLOCK,
    NO_REDIS,
    LISTEN_OK,
  ]);
  const table = keygate(settings, ['doctor']);
  assert.equal(table.code, 0);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^CHECK {10}STATUS {2}DETAIL$/);
  assert.deepEqual(
    lines.slice(1).map((line) => line.split(/ {2,}/)),
    report.checks.map((c) => [c.check, c.status, c.detail]),
  );
});

test('a secret file others can read is a problem (serve would refuse it): exit 1; a readable database is a warning', () => {
  const { settings, database } = sqliteDeployment('readable');
  chmodSync(`${database}.secret`, 0o644);
  chmodSync(database, 0o640);
  const report = doctor(settings);
  assert.equal(report.code, 1);
  assert.equal(report.status, 'problem');
  const checks = byName(report.checks);
  assert.deepEqual(checks['secret file'], {
    check: 'secret file',
    status: 'problem',
    detail: `${database}.secret is mode 644, readable by others: keygate serve refuses to start. chmod 600 ${database}.secret, and since others could read it, run keygate server-key rotate.`,
  });
  assert.deepEqual(checks['database file'], {
    check: 'database file',
    status: 'warn',
    detail: `${database} is mode 640, readable by others (password hashes, keys): chmod 600 ${database}.`,
  });
  assert.deepEqual(
    report.checks.filter((c) => c.status === 'problem').map((c) => c.check),
    ['secret file'],
  );
});

test('a lost secret file beside a database whose session key is sealed under it is a problem', () => {
  const { settings, database } = sqliteDeployment('lost-secret');
  rmSync(`${database}.secret`);
  const report = doctor(settings);
  assert.equal(report.code, 1);
  assert.deepEqual(byName(report.checks)['secret file'], {
    check: 'secret file',
    status: 'problem',
    detail: `${database}.secret does not exist, yet the store holds a session key sealed under it: keygate serve would make a new secret and refuse to start. Restore the file from a backup (or set KEYGATE_SECRET_FILE to where it is).`,
  });
  assert.equal(existsSync(`${database}.secret`), false, 'the doctor made no secret file');
});

test('another secret file than the one the database was set up with is a problem', () => {
  const { settings, database } = sqliteDeployment('other-secret');
  const other = join(dir, 'other-secret', 'other.secret');
  writeFileSync(other, randomBytes(32), { mode: 0o600 });
  const report = doctor({ ...settings, KEYGATE_SECRET_FILE: other });
  assert.equal(report.code, 1);
  assert.deepEqual(byName(report.checks)['secret file'], {
    check: 'secret file',
    status: 'problem',
    detail: `${other} does not open the active session key: the store was set up with another secret file. Use the one it was first started with.`,
  });
  assert.equal(existsSync(`${database}.secret`), true);
});

test('a database path that does not exist is a problem, and the doctor creates nothing', () => {
  const missing = join(dir, 'nowhere', 'keygate.db');
  const report = doctor({ KEYGATE_DATABASE: missing });
  assert.equal(report.code, 1);
  assert.deepEqual(report.checks, [
    CONFIG_OK,
    {
      check: 'store',
      status: 'problem',
      detail: `${missing} does not exist. keygate serve would make a new, empty one: if it should exist, check KEYGATE_DATABASE (a relative path is read from the working directory).`,
    },
    { check: 'schema', status: 'warn', detail: 'Not checked: the store cannot be read.' },
    { check: 'database file', status: 'warn', detail: 'Not checked: the file does not exist.' },
    {
      check: 'secret file',
      status: 'ok',
      detail: `${missing}.secret not made yet: keygate serve makes it at its first start.`,
    },
    { check: 'session key', status: 'warn', detail: 'Not checked: the store cannot be read.' },
    NO_PEPPER,
    {
      check: 'audiences',
      status: 'warn',
      detail:
        "KEYGATE_AUDIENCES is unset, so api.happypathology.com is accepted: set it to your API's host (this region's first).",
    },
    LOCAL_CLOCK,
    NO_REDIS,
    LISTEN_OK,
  ]);
  assert.equal(existsSync(join(dir, 'nowhere')), false);
});

test('a database of an older Keygate is behind; one a newer Keygate migrated is ahead, a problem; neither is changed', () => {
  const { settings, database } = sqliteDeployment('versions');
  const latest = SQLITE_MIGRATIONS.length;
  const setVersion = (version: number) => {
    const db = new DatabaseSync(database);
    db.exec(`PRAGMA user_version = ${version}`);
    db.close();
  };
  setVersion(latest - 2);
  const behind = doctor(settings);
  assert.equal(behind.code, 0);
  assert.deepEqual(byName(behind.checks).schema, {
    check: 'schema',
    status: 'warn',
    detail: `Behind by 2 (version ${latest - 2} of ${latest}): the next keygate serve migrates it before it listens; back up the database first.`,
  });
  assert.deepEqual(byName(behind.checks)['session key'], {
    check: 'session key',
    status: 'warn',
    detail: 'Not checked: the schema is not at the version this Keygate knows.',
  });
  setVersion(latest + 1);
  const ahead = doctor(settings);
  assert.equal(ahead.code, 1);
  assert.deepEqual(byName(ahead.checks).schema, {
    check: 'schema',
    status: 'problem',
    detail: `Ahead: the database was migrated by a newer Keygate (version ${latest + 1}; this one knows ${latest}). Run that version or a later one: this one refuses to open it.`,
  });
  // No -wal or -shm left behind: a reader's files could belong to another user than the server's.
  assert.deepEqual(readdirSync(join(dir, 'versions')).sort(), ['keygate.db', 'keygate.db.secret']);
  const db = new DatabaseSync(database);
  assert.equal(
    (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
    latest + 1,
  );
  db.close();
});

test('a setting serve would refuse stops the doctor at the config check', () => {
  const report = doctor({ KEYGATE_DATABASE: join(dir, 'x.db'), KEYGATE_LEEWAY_SECONDS: '9000' });
  assert.equal(report.code, 1);
  assert.deepEqual(report.checks, [
    {
      check: 'config',
      status: 'problem',
      detail:
        'keygate serve refuses to start: KEYGATE_LEEWAY_SECONDS="9000" is not a whole number from 0 to 300.',
    },
  ]);
});
