import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.ts';

/**
 * A database of its own for one test run, made on the server KEYGATE_TEST_DATABASE_URL names
 * (a URL of a database to connect to for CREATE DATABASE, e.g. .../postgres) and dropped after.
 * Each store a test asks for gets a fresh schema in it: empty, migrated by the store itself.
 */
export class TestDatabase {
  readonly url: string;
  private readonly adminUrl: string;
  private readonly name: string;
  private readonly admin: pg.Pool;
  private schemas = 0;

  private constructor(adminUrl: string, name: string) {
    this.adminUrl = adminUrl;
    this.name = name;
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    this.url = url.href;
    this.admin = new pg.Pool({ connectionString: this.url, max: 2 });
    this.admin.on('error', () => {});
  }

  static async create(adminUrl: string): Promise<TestDatabase> {
    const name = `keygate_test_${randomBytes(6).toString('hex')}`;
    await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
    return new TestDatabase(adminUrl, name);
  }

  /** A new, empty schema and the URL that connects to it: what a fresh deployment would point Keygate at. */
  async newSchema(): Promise<{ name: string; url: string }> {
    const name = `s${++this.schemas}`;
    await this.admin.query(`CREATE SCHEMA ${name}`);
    const url = new URL(this.url);
    url.searchParams.set('options', `-c search_path=${name}`);
    return { name, url: url.href };
  }

  async newSchemaUrl(): Promise<string> {
    return (await this.newSchema()).url;
  }

  async openStore(options?: PostgresStoreOptions): Promise<PostgresStore> {
    return PostgresStore.open(await this.newSchemaUrl(), options);
  }

  /** Runs a statement in the test database, beside the stores (search_path given in the text). */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    return this.admin.query(text, values);
  }

  /** A connection of its own, for a test that holds a lock or a transaction open. */
  async connect(schemaUrl: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: schemaUrl });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  async drop(): Promise<void> {
    await this.admin.end();
    await withClient(this.adminUrl, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`),
    );
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
