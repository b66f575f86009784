import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres.ts';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { TestDatabase } from './postgres-test-database.ts';
import { storeContract } from './store-contract.ts';
import { keyInput } from './store-fixtures.ts';

// The contract and PostgreSQL's own cases, on the server KEYGATE_TEST_DATABASE_URL names (a
// database to connect to for CREATE DATABASE, e.g. postgres://postgres@127.0.0.1:5432/postgres).
// Unset, they are skipped; set, they must run: a server that cannot be reached fails them.
const adminUrl = process.env.KEYGATE_TEST_DATABASE_URL;

if (!adminUrl) {
  test('PostgreSQL store', {
    skip: 'KEYGATE_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres)',
  });
} else {
  const database = await TestDatabase.create(adminUrl).catch((error: Error) => error);
  if (database instanceof Error) {
    test('PostgreSQL at KEYGATE_TEST_DATABASE_URL can be reached', () => {
      throw new Error(
        `KEYGATE_TEST_DATABASE_URL is set, but no test database could be made there: ${database.message}`,
        {
          cause: database,
        },
      );
    });
  } else {
    after(() => database.drop());
    postgresTests(database);
  }
}

function postgresTests(database: TestDatabase): void {
  // Several stores on one schema are several nodes: each has a pool of its own.
  storeContract(
    'PostgreSQL',
    () => database.openStore(),
    async () => {
      const url = await database.newSchemaUrl();
      return Promise.all([PostgresStore.open(url), PostgresStore.open(url)]);
    },
  );

  test('migration 2 (the key change feed) carries every key over; their later changes are in the feed', async () => {
    const { name: schema, url } = await database.newSchema();
    const old = await database.connect(url);
    try {
      await old.query(`CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
      await old.query(POSTGRES_MIGRATIONS[0] as string);
      await old.query('INSERT INTO schema_migrations (version) VALUES (1)');
      await old.query("INSERT INTO orgs (id, name, created_at) VALUES ('o1', 'Old', 1)");
      for (const [id, status] of [
        ['k1', 'active'],
        ['k2', 'revoked'],
      ]) {
        await old.query(
          `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, roles, default_role, created_at)
           VALUES ($1, 'o1', $2, $3, 'ec-p256', 256, $4, '{user}', 'user', 1)`,
          [id, keyInput('o1').spkiPem, `t-${id}`, status],
        );
      }
      await old.query("UPDATE meta SET value = 41 WHERE name = 'key_revision'");
    } finally {
      await old.end();
    }
    const store = await PostgresStore.open(url);
    try {
      const { rows } = await database.query(
        `SELECT max(version) AS version FROM ${schema}.schema_migrations`,
      );
      assert.equal(rows[0]?.version, POSTGRES_MIGRATIONS.length);
      assert.deepEqual(
        [(await store.getKey('k1'))?.status, (await store.getKey('k2'))?.status],
        ['active', 'revoked'],
      );
      assert.equal(await store.keyRevision(), 41);
      assert.deepEqual(await store.keyChangesSince(0, 10), []);
      await store.setKeyStatus('k1', 'disabled');
      assert.deepEqual(await store.keyChangesSince(41, 10), [
        { id: 'k1', status: 'disabled', expiresAt: null, revokesAt: null, revision: 42 },
      ]);
    } finally {
      await store.close();
    }
  });

  test('nodes starting at once on a new database migrate it exactly once', async () => {
    const { name: schema, url } = await database.newSchema();
    const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresStore.open(url)));
    try {
      const { rows } = await database.query(
        `SELECT version FROM ${schema}.schema_migrations ORDER BY version`,
      );
      assert.deepEqual(
        rows.map((row) => row.version),
        POSTGRES_MIGRATIONS.map((_, i) => i + 1),
      );
      const org = await stores[3]?.createOrg({ name: 'Migrated' }, NOW);
      assert.equal((await stores[5]?.getOrg(org?.id as string))?.name, 'Migrated');
      const locks = await database.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      assert.equal(locks.rows[0]?.n, 0, 'the migration lock is released');
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
    const reopened = await PostgresStore.open(url);
    await reopened.close();
    const { rows } = await database.query(`SELECT count(*)::int AS n FROM ${schema}.schema_migrations`);
    assert.equal(rows[0]?.n, POSTGRES_MIGRATIONS.length, 'reopening applies nothing again');
  });

  test("a column a newer node's migration adds does not break the statements this node prepared", async () => {
    const { name: schema, url } = await database.newSchema();
    const store = await PostgresStore.open(url, { poolSize: 1 });
    try {
      const org = await store.createOrg({ name: 'Rolling' }, NOW);
      const key = await store.insertKey(keyInput(org.id), NOW);
      const read = async () => ({
        org: await store.getOrg(org.id),
        key: await store.getKey(key.id),
        keys: await store.listKeys(org.id),
        servers: await store.listServerKeys(),
      });
      const before = await read();
      for (const table of ['orgs', 'keys', 'server_keys'])
        await database.query(`ALTER TABLE ${schema}.${table} ADD COLUMN added_later TEXT`);
      assert.deepEqual(await read(), before);
    } finally {
      await store.close();
    }
  });

  test('a server that cannot be reached is StoreUnavailableError, at open and after', async () => {
    const nowhere = new URL(database.url);
    nowhere.port = '1';
    await assert.rejects(PostgresStore.open(nowhere.href, { connectTimeoutMs: 1000 }), StoreUnavailableError);
    const store = await database.openStore();
    await store.close();
    await assert.rejects(store.getOrg('x'), StoreUnavailableError, 'a closed store');
  });

  test('connections the server ends are replaced: the next call succeeds', async () => {
    const url = await database.newSchemaUrl();
    const store = await PostgresStore.open(url);
    try {
      const org = await store.createOrg({ name: 'Before' }, NOW);
      await database.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'keygate' AND datname = current_database()`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await store.getOrg(org.id))?.name, 'Before');
    } finally {
      await store.close();
    }
  });

  test('a lock held past lockWaitMs is StoreUnavailableError; the write is not done', async () => {
    const url = await database.newSchemaUrl();
    const store = await PostgresStore.open(url, { lockWaitMs: 200 });
    const holder = await database.connect(url);
    try {
      const org = await store.createOrg({ name: 'Locked' }, NOW);
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE', [org.id]);
      const started = Date.now();
      await assert.rejects(store.insertKey(keyInput(org.id), NOW), StoreUnavailableError);
      assert.ok(Date.now() - started >= 200, 'it waited for the lock first');
      await holder.query('ROLLBACK');
      assert.deepEqual(await store.listKeys(org.id), []);
      await store.insertKey(keyInput(org.id), NOW);
    } finally {
      await holder.end();
      await store.close();
    }
  });

  test('a bug is not an outage: a broken statement keeps its own error', async () => {
    const store = await database.openStore();
    try {
      await assert.rejects(
        store.createUser({
          id: 'u',
          orgId: 'no-such-org',
          email: 'a@example.com',
          screenName: 'A',
          role: 'user',
          status: 'active',
          passwordHash: 'h',
          createdAt: NOW,
        }),
        (error: Error) => !(error instanceof StoreUnavailableError) && /foreign key/.test(error.message),
      );
    } finally {
      await store.close();
    }
  });
}
