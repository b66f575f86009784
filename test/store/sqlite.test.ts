import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.ts';
import { storeContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'keygate-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let contractStores = 0;
// A new file per test: the contract needs an empty store each time.
storeContract('SQLite', async () => new SqliteStore(join(dir, `contract-${++contractStores}.db`)));

test('the schema is migrated once and reopening keeps the data', async () => {
  const path = join(dir, 'reopen.db');
  const first = new SqliteStore(path);
  const org = await first.createOrg({ name: 'Persisted' }, 1);
  await first.close();
  const second = new SqliteStore(path);
  assert.equal((await second.getOrg(org.id))?.name, 'Persisted');
  await second.close();
  const db = new DatabaseSync(path);
  assert.equal(
    (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
    SQLITE_MIGRATIONS.length,
  );
  assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
  db.close();
});

test('kill -9 in the middle of writing loses no committed write and corrupts nothing', async () => {
  const path = join(dir, 'crash.db');
  const writer = `
    import { writeSync } from 'node:fs';
    import { SqliteStore } from ${JSON.stringify(new URL('../../src/store/sqlite.ts', import.meta.url).href)};
    const store = new SqliteStore(${JSON.stringify(path)});
    for (let i = 0; i < 100000; i++) {
      const org = await store.createOrg({ name: 'org-' + i }, i);
      // Synchronous, so that a reported id is one the store has committed before the next write.
      writeSync(1, org.id + '\\n');
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', writer], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const committed: string[] = [];
  let buffer = '';
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      committed.push(...lines);
      if (committed.length >= 300) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(committed.length >= 300, `the writer reported ${committed.length} commits before it was killed`);
  const store = new SqliteStore(path);
  const ids = new Set((await store.listOrgs()).map((o) => o.id));
  await store.close();
  for (const id of committed) assert.ok(ids.has(id), `committed org ${id} survived`);
  const db = new DatabaseSync(path);
  assert.equal(
    (db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check,
    'ok',
  );
  db.close();
});
