import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.ts';
import { TestDatabase } from '../store/postgres-test-database.ts';
import { withTestRedis } from '../store/redis-test-server.ts';
import { byName, CONFIG_OK, doctor, keygate, LISTEN_OK, LOCAL_CLOCK, NO_PEPPER } from './doctor-helpers.ts';
import { freePort } from './server-process.ts';

// `keygate doctor` against a real PostgreSQL and a real Redis, up and at closed ports: what it
// reads of each, that it changes nothing, and that no password it was given is ever printed.

const dir = mkdtempSync(join(tmpdir(), 'keygate-doctor-services-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const secretFile = join(dir, 'secret');
writeFileSync(secretFile, randomBytes(32), { mode: 0o600 });
const AUDIENCES = { KEYGATE_AUDIENCES: 'api.example.com' };
const AUDIENCES_OK = { check: 'audiences', status: 'ok', detail: 'api.example.com.' } as const;

/** A URL with a password in it; trust authentication ignores it, so it reaches the server all the same. */
function withPassword(url: string): { url: string; shown: string } {
  const parsed = new URL(url);
  parsed.password = 'sekret';
  const url2 = parsed.href;
  parsed.password = '***';
  return { url: url2, shown: parsed.href };
}

test('PostgreSQL at a closed port: a problem at once, and the password never shown; no secret file is a problem too', async () => {
  const port = await freePort();
  const { url, shown } = withPassword(`postgres://keygate@127.0.0.1:${port}/keygate`);
  const result = keygate({ KEYGATE_DATABASE: url, ...AUDIENCES }, ['doctor', '--json']);
  assert.equal(result.code, 1);
  assert.ok(result.ms < 3000, `took ${result.ms} ms`);
  assert.doesNotMatch(result.stdout, /sekret/);
  const checks = byName(JSON.parse(result.stdout).checks);
  assert.deepEqual(checks.store, {
    check: 'store',
    status: 'problem',
    detail: `Cannot read ${shown}: connect ECONNREFUSED 127.0.0.1:${port}. Check that the server is up and the URL's host, port, user and database name are right.`,
  });
  assert.deepEqual(checks['secret file'], {
    check: 'secret file',
    status: 'problem',
    detail:
      'KEYGATE_SECRET_FILE is unset: a PostgreSQL store needs it (the same file on every node), and keygate serve refuses to start without it.',
  });
  assert.deepEqual(checks['database file'], {
    check: 'database file',
    status: 'ok',
    detail: 'PostgreSQL: no database file on this machine.',
  });
});

const adminUrl = process.env.KEYGATE_TEST_DATABASE_URL;
test('PostgreSQL reachable: an empty schema is left empty; once migrated every check is ok, its clock compared', {
  skip: adminUrl ? false : 'KEYGATE_TEST_DATABASE_URL is not set',
}, async () => {
  const database = await TestDatabase.create(adminUrl as string);
  try {
    const schema = await database.newSchema();
    const { url, shown } = withPassword(schema.url);
    const settings = { KEYGATE_DATABASE: url, KEYGATE_SECRET_FILE: secretFile, ...AUDIENCES };
    const latest = POSTGRES_MIGRATIONS.length;

    const empty = doctor(settings);
    assert.equal(empty.code, 0);
    assert.deepEqual(byName(empty.checks).schema, {
      check: 'schema',
      status: 'warn',
      detail: `Empty (behind by ${latest}): keygate serve creates the schema at its first start.`,
    });
    const { rows } = await database.query(`SELECT to_regclass('${schema.name}.schema_migrations') AS t`);
    assert.equal(rows[0].t, null, 'the doctor migrated nothing');

    assert.equal(keygate(settings, ['org', 'create', '--name', 'Acme']).code, 0);
    const rotated = keygate(settings, ['server-key', 'rotate', '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const kid = JSON.parse(rotated.stdout).kid;
    const report = keygate(settings, ['doctor', '--json']);
    assert.equal(report.code, 0, report.stdout);
    assert.doesNotMatch(report.stdout, /sekret/);
    const { status, checks } = JSON.parse(report.stdout);
    const engine = (await database.query('SHOW server_version')).rows[0].server_version;
    const session = byName(checks)['session key'];
    assert.match(
      session?.detail ?? '',
      new RegExp(`^${kid} made \\S+Z \\(0 days ago\\); 1 retired still verifying\\.$`),
    );
    assert.equal(status, 'ok');
    assert.deepEqual(checks, [
      CONFIG_OK,
      { check: 'store', status: 'ok', detail: `PostgreSQL ${engine} at ${shown}.` },
      { check: 'schema', status: 'ok', detail: `Version ${latest}, the newest this Keygate knows.` },
      { check: 'database file', status: 'ok', detail: 'PostgreSQL: no database file on this machine.' },
      {
        check: 'secret file',
        status: 'ok',
        detail: `${secretFile}, mode 600, opens the active session key.`,
      },
      { check: 'session key', status: 'ok', detail: session?.detail },
      NO_PEPPER,
      AUDIENCES_OK,
      { check: 'clock', status: 'ok', detail: 'PostgreSQL agrees within a second (leeway 60 s).' },
      {
        check: 'redis',
        status: 'ok',
        detail:
          'Not configured (KEYGATE_REDIS_URL unset): the replay ledger is in the store, rate limits in each process.',
      },
      LISTEN_OK,
    ]);
  } finally {
    await database.drop();
  }
});

test('Redis at a closed port: a problem, the password never shown', async () => {
  const port = await freePort();
  const database = join(dir, 'redis-down.db');
  assert.equal(keygate({ KEYGATE_DATABASE: database }, ['org', 'create', '--name', 'Acme']).code, 0);
  const { url, shown } = withPassword(`redis://127.0.0.1:${port}`);
  const result = keygate({ KEYGATE_DATABASE: database, KEYGATE_REDIS_URL: url, ...AUDIENCES }, [
    'doctor',
    '--json',
  ]);
  assert.equal(result.code, 1);
  // The whole run, Node's start included: a refused connection is not waited on.
  assert.ok(result.ms < 3000, `took ${result.ms} ms`);
  assert.doesNotMatch(result.stdout, /sekret/);
  const { checks } = JSON.parse(result.stdout);
  assert.deepEqual(byName(checks).redis, {
    check: 'redis',
    status: 'problem',
    detail: `${shown} did not answer PING within 1000 ms: the connection was refused. Fresh tokens and logins get 503 until it does; check that Redis is up and KEYGATE_REDIS_URL.`,
  });
  assert.deepEqual(byName(checks).clock, LOCAL_CLOCK);
  assert.deepEqual(
    checks.filter((c: { status: string }) => c.status === 'problem').map((c: { check: string }) => c.check),
    ['redis'],
  );
});

await withTestRedis('Redis configured and up: ok, with its version, and its clock compared', (redis) => {
  test('Redis configured and up: ok, with its version, and its clock compared', async () => {
    const database = join(dir, 'redis-up.db');
    assert.equal(keygate({ KEYGATE_DATABASE: database }, ['org', 'create', '--name', 'Acme']).code, 0);
    const version = /^redis_version:(\S+)/m.exec(await redis.admin.info('server'))?.[1];
    const report = doctor({ KEYGATE_DATABASE: database, KEYGATE_REDIS_URL: redis.url, ...AUDIENCES });
    assert.equal(report.code, 0);
    assert.equal(report.status, 'ok');
    const checks = byName(report.checks);
    assert.match(
      checks.redis?.detail ?? '',
      new RegExp(`^Redis ${version?.replaceAll('.', '\\.')} at ${redis.url} answered PING in \\d+ ms\\.$`),
    );
    assert.equal(checks.redis?.status, 'ok');
    assert.deepEqual(checks.clock, {
      check: 'clock',
      status: 'ok',
      detail: 'Redis agrees within a second (leeway 60 s).',
    });
  });
});
