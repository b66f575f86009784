import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TestDatabase } from '../store/postgres-test-database.ts';
import { freePort, waitForHealth } from './server-process.ts';

// `keygate serve` and the admin commands on a PostgreSQL store, as an operator runs them: a
// server with several workers, and the CLI writing to the same database beside it.

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keygate-cli-pg-'));
const secretFile = join(dir, 'secret');
writeFileSync(secretFile, randomBytes(32), { mode: 0o600 });
after(() => rmSync(dir, { recursive: true, force: true }));

function keygate(database: string, args: string[]) {
  const env = { ...process.env, KEYGATE_DATABASE: database, KEYGATE_SECRET_FILE: secretFile };
  const result = spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('an admin command on a PostgreSQL server that cannot be reached: exit 4, unavailable, and what to check', async () => {
  const nowhere = `postgres://keygate@127.0.0.1:${await freePort()}/keygate`;
  const result = keygate(nowhere, ['org', 'create', '--name', 'Nowhere', '--json']);
  assert.equal(result.code, 4, result.stderr);
  const { error } = JSON.parse(result.stdout);
  assert.equal(error.code, 'unavailable');
  assert.match(error.message, /^The PostgreSQL store failed: connect ECONNREFUSED/);
  assert.match(error.hint, /for PostgreSQL, that the server is up and reachable/);
});

const adminUrl = process.env.KEYGATE_TEST_DATABASE_URL;
test('serve with two workers and the CLI on one PostgreSQL database: a registered key signs an accepted token, a revoked one stops', {
  skip: adminUrl ? false : 'KEYGATE_TEST_DATABASE_URL is not set',
}, async () => {
  const database = await TestDatabase.create(adminUrl as string);
  let server: ChildProcess | undefined;
  try {
    const url = await database.newSchemaUrl();
    const json = (args: string[]) => {
      const result = keygate(url, [...args, '--json']);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
      return JSON.parse(result.stdout);
    };
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [MAIN, 'serve', '--port', String(port), '--workers', '2'], {
      env: {
        ...process.env,
        KEYGATE_DATABASE: url,
        KEYGATE_SECRET_FILE: secretFile,
        KEYGATE_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    await waitForHealth(base, server);
    assert.deepEqual(((await (await fetch(`${base}/readyz`)).json()) as { results: unknown }).results, {
      ok: true,
      store: 'postgres',
    });

    const org = json(['org', 'create', '--name', 'Postgres Org']);
    const keyPath = join(dir, 'pg.key');
    json(['keygen', '--type', 'ec', '--out', keyPath]);
    const key = json(['key', 'add', '--org', org.org_id, '--public-key', `${keyPath}.pub`]);
    const sign = () =>
      json(['token', '--key', keyPath, '--org', org.org_id, '--kid', key.key_id, '--sub', 'alice']).token;
    const whoami = (token: string) => fetch(`${base}/v1/whoami`, { headers: { authorization: token } });
    const token = sign();
    const accepted = await whoami(token);
    assert.equal(accepted.status, 200);
    assert.equal(((await accepted.json()) as { results: { kid: string } }).results.kid, key.key_id);

    assert.equal(json(['key', 'revoke', key.key_id]).status, 'revoked');
    let refused = await whoami(sign());
    for (let i = 0; i < 40 && refused.status === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      refused = await whoami(sign());
    }
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'key_revoked');
  } finally {
    if (server?.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server?.once('exit', resolve));
    }
    await database.drop();
  }
});
