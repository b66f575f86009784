import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { intakePublicKey } from '../../src/core/key-intake.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { jtiPair, olderBoundToken } from '../../src/store/sqlite-jti.ts';
import { JTI_ENTRY_BYTES } from '../../src/store/sqlite-jti-entries.ts';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.ts';
import { openDatabase } from '../../src/store/sqlite-open.ts';
import { NOW, rsaPair } from '../helpers.ts';
import { linesBeforeKill } from './killed-writer.ts';
import { storeContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'keygate-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A database as the store left it at schema `version`, to migrate from: opened as the store opens
 * one (openDatabase lends the functions the migrations call) and migrated that far, not further.
 */
function databaseAt(name: string, version: number): { path: string; old: DatabaseSync } {
  const path = join(dir, name);
  const old = openDatabase(path);
  for (const migration of SQLITE_MIGRATIONS.slice(0, version)) old.exec(migration);
  old.exec(`PRAGMA user_version = ${version}`);
  return { path, old };
}

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

test('a database made before the login throttle migrates, keeping its users', async () => {
  const { path, old } = databaseAt('v2.db', 2);
  old.exec(`INSERT INTO orgs (id, name, created_at) VALUES ('o1', 'Old', 1);
    INSERT INTO users (id, org_id, email, screen_name, role, status, password_hash, failed_logins, locked_until, created_at)
      VALUES ('u1', 'o1', 'ali@example.com', 'Ali', 'user', 'active', 'h', 7, 99, 1);`);
  old.close();
  const store = new SqliteStore(path);
  assert.deepEqual(await store.getUser('u1'), {
    id: 'u1',
    orgId: 'o1',
    email: 'ali@example.com',
    screenName: 'Ali',
    role: 'user',
    status: 'active',
    passwordHash: 'h',
    createdAt: 1,
  });
  assert.deepEqual(
    await store.getLoginAttempts('ali@example.com', 1),
    [],
    'the old lock is not carried over',
  );
  await store.close();
});

test('migration 6 carries every jti binding over to the compact ledger', async () => {
  const { path, old } = databaseAt('v5-ledger.db', 5);
  const insert = old.prepare('INSERT INTO jti_ledger (iss, jti, token_hash, expires_at) VALUES (?, ?, ?, ?)');
  insert.run('org-a', 'j1', 'token-one', NOW + 60);
  insert.run('org-a', 'j2', 'token-two', NOW - 1);
  // The length prefix keeps these two pairs apart although their concatenations are equal.
  insert.run('org-ab', 'c', 'token-three', NOW + 60);
  old.close();
  const store = new SqliteStore(path);
  assert.equal(await store.peekJti('org-a', 'j1', 'token-one', NOW), 'same-token');
  assert.equal(await store.peekJti('org-a', 'j1', 'another token', NOW), 'reused');
  assert.equal(
    await store.peekJti('org-a', 'j2', 'another token', NOW),
    'bound',
    'an expired binding binds nothing',
  );
  assert.equal(await store.peekJti('org-ab', 'c', 'token-three', NOW), 'same-token');
  assert.equal(await store.peekJti('org-a', 'bc', 'token-three', NOW), 'bound');
  assert.deepEqual(
    await store.bindJtis(
      [
        { iss: 'org-a', jti: 'j1', tokenHash: 'another token', expiresAt: NOW + 60 },
        { iss: 'org-a', jti: 'j2', tokenHash: 'another token', expiresAt: NOW + 60 },
      ],
      NOW,
    ),
    ['reused', 'bound'],
  );
  await store.close();
  const db = new DatabaseSync(path);
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'jti%'").all();
  assert.deepEqual(
    tables.map((row) => row.name),
    ['jti_bindings', 'jti_recent'],
  );
  db.close();
});

test('migration 10 keeps every jti binding still in force, in order of expiry, with a unique index on the pair and none on expiry', async () => {
  const { path, old } = databaseAt('v9-ledger.db', 9);
  const insert = old.prepare('INSERT INTO jti_bindings (pair, token, expires_at) VALUES (?, ?, ?)');
  // Inserted latest expiry first: the old table kept them in pair order, whatever their expiry.
  insert.run(jtiPair('org-a', 'late'), olderBoundToken('token-late'), NOW + 300);
  insert.run(jtiPair('org-a', 'soon'), olderBoundToken('token-soon'), NOW + 60);
  insert.run(jtiPair('org-a', 'gone'), olderBoundToken('token-gone'), NOW - 1);
  // Expired by the clock the migration reads: not carried over.
  insert.run(jtiPair('org-a', 'past'), olderBoundToken('token-past'), Math.floor(Date.now() / 1000) - 1);
  old.close();
  const store = new SqliteStore(path);
  assert.equal(await store.peekJti('org-a', 'late', 'token-late', NOW), 'same-token');
  assert.equal(await store.peekJti('org-a', 'soon', 'another token', NOW), 'reused');
  assert.equal(
    await store.peekJti('org-a', 'gone', 'another token', NOW),
    'bound',
    'an expired binding binds nothing',
  );
  assert.deepEqual(
    await store.bindJtis(
      [
        { iss: 'org-a', jti: 'soon', tokenHash: 'another token', expiresAt: NOW + 60 },
        { iss: 'org-a', jti: 'gone', tokenHash: 'another token', expiresAt: NOW + 60 },
        { iss: 'org-a', jti: 'new', tokenHash: 'token-new', expiresAt: NOW + 60 },
        { iss: 'org-a', jti: 'new', tokenHash: 'token-other', expiresAt: NOW + 60 },
      ],
      NOW,
    ),
    ['reused', 'bound', 'bound', 'reused'],
  );
  await store.close();
  const db = new DatabaseSync(path);
  assert.deepEqual(
    db
      .prepare('SELECT expires_at FROM jti_bindings ORDER BY rowid')
      .all()
      .map((row) => row.expires_at),
    [NOW - 1, NOW + 60, NOW + 300],
    'the old rows in order of expiry; the expired one, taken over, stays until pruned',
  );
  assert.deepEqual(
    db
      .prepare(
        `SELECT length(entries) / ${JTI_ENTRY_BYTES} AS bindings, expires_at FROM jti_recent ORDER BY id`,
      )
      .all()
      .map((row) => [row.bindings, row.expires_at]),
    [[2, NOW + 60]],
    'the bindings made since, the taken-over pair and the new one, appended to the recent rows as one',
  );
  assert.deepEqual(
    db
      .prepare('SELECT name, "unique" AS is_unique FROM pragma_index_list(\'jti_bindings\') ORDER BY name')
      .all()
      .map((row) => [row.name, row.is_unique]),
    [['jti_bindings_by_pair', 1]],
  );
  db.close();
});

test('pruning the ledger walks it from its oldest rows and removes every expired one it reaches', async () => {
  const store = new SqliteStore(join(dir, 'prune-order.db'));
  const claim = (jti: string, expiresAt: number) => ({ iss: 'org-p', jti, tokenHash: jti, expiresAt });
  // Long- and short-lived tokens from two clients, a commit each at a time: every batch of the
  // walk holds rows of both.
  for (let commit = 0; commit < 300; commit++) {
    const expiresAt = commit % 2 === 0 ? NOW + 5 : NOW + 3600;
    await store.bindJtis(
      Array.from({ length: 10 }, (_, i) => claim(`c${commit}-${i}`, expiresAt)),
      NOW,
    );
  }
  assert.equal(await store.pruneJti(NOW + 5), 1500, 'bindings are counted, not rows');
  assert.equal(await store.peekJti('org-p', 'c1-0', 'x', NOW + 5), 'reused', 'the long-lived stay');
  assert.equal(await store.peekJti('org-p', 'c0-0', 'x', NOW + 5), 'bound');
  // A commit's row goes once its last binding expires; its others bind nothing meanwhile.
  await store.bindJtis([claim('mixed-short', NOW + 10), claim('mixed-long', NOW + 60)], NOW);
  assert.equal(await store.pruneJti(NOW + 10), 0);
  assert.equal(await store.peekJti('org-p', 'mixed-short', 'x', NOW + 10), 'bound');
  assert.equal(await store.peekJti('org-p', 'mixed-long', 'x', NOW + 10), 'reused');
  // A stretch of live rows longer than the walk's first batch, then expired ones: those wait
  // until the front expires.
  const fresh = new SqliteStore(join(dir, 'prune-front.db'));
  for (let i = 0; i < 200; i++) await fresh.bindJtis([claim(`front-${i}`, NOW + 60)], NOW);
  await fresh.bindJtis(
    Array.from({ length: 500 }, (_, i) => claim(`behind-${i}`, NOW + 10)),
    NOW,
  );
  assert.equal(await fresh.pruneJti(NOW + 10), 0);
  assert.equal(await fresh.peekJti('org-p', 'behind-0', 'x', NOW + 10), 'bound');
  assert.equal(await fresh.pruneJti(NOW + 60), 700);
  assert.equal(await fresh.pruneJti(NOW + 60), 0);
  await fresh.close();
  await store.close();
});

test('migration 12 carries every recent binding still in force over, a row each, and binds after them', async () => {
  const { path, old } = databaseAt('v11-ledger.db', 11);
  const insert = old.prepare('INSERT INTO jti_recent (pair, token, expires_at) VALUES (?, ?, ?)');
  const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
  // As version 11 bound them: the token's hash digested again.
  insert.run(jtiPair('org-a', 'first'), olderBoundToken(sha256('token-first')), NOW + 300);
  insert.run(
    jtiPair('org-a', 'gone'),
    olderBoundToken(sha256('token-gone')),
    Math.floor(Date.now() / 1000) - 1,
  );
  insert.run(jtiPair('org-a', 'second'), olderBoundToken(sha256('token-second')), NOW + 60);
  old.close();
  const store = new SqliteStore(path);
  assert.equal(await store.peekJti('org-a', 'first', sha256('token-first'), NOW), 'same-token');
  assert.equal(await store.peekJti('org-a', 'second', sha256('another token'), NOW), 'reused');
  assert.equal(
    await store.peekJti('org-a', 'gone', sha256('another token'), NOW),
    'bound',
    'expired: not carried',
  );
  assert.deepEqual(
    await store.bindJtis(
      [
        { iss: 'org-a', jti: 'second', tokenHash: sha256('token-second'), expiresAt: NOW + 60 },
        { iss: 'org-a', jti: 'new', tokenHash: sha256('token-new'), expiresAt: NOW + 90 },
      ],
      NOW,
    ),
    ['same-token', 'bound'],
  );
  await store.close();
  const db = new DatabaseSync(path);
  assert.deepEqual(
    db
      .prepare(
        `SELECT id, length(entries) / ${JTI_ENTRY_BYTES} AS bindings, expires_at FROM jti_recent ORDER BY id`,
      )
      .all()
      .map((row) => [row.id, row.bindings, row.expires_at]),
    [
      [1, 1, NOW + 300],
      [2, 1, NOW + 60],
      [3, 1, NOW + 90],
    ],
  );
  db.close();
  // Opened again, a new connection reads the carried rows and the new one in.
  const reopened = new SqliteStore(path);
  assert.equal(await reopened.peekJti('org-a', 'first', sha256('token-first'), NOW), 'same-token');
  assert.equal(await reopened.peekJti('org-a', 'new', sha256('token-other'), NOW), 'reused');
  await reopened.close();
});

test('login attempts reserved by several processes at once on one file: exactly the allowed number pass', async () => {
  const path = join(dir, 'workers.db');
  await new SqliteStore(path).close();
  const startAt = Date.now() + 1500;
  const worker = `
    import { SqliteStore } from ${JSON.stringify(new URL('../../src/store/sqlite.ts', import.meta.url).href)};
    const store = new SqliteStore(${JSON.stringify(path)});
    const limits = { windowSeconds: 3600, freeAttempts: 5, baseDelaySeconds: 600, maxDelaySeconds: 600 };
    const policy = { perAddress: limits, perAccount: { ...limits, freeAttempts: 100 }, trustSeconds: 60 };
    while (Date.now() < ${startAt}) {}
    let allowed = 0;
    for (let i = 0; i < 25; i++)
      if ((await store.reserveLoginAttempt('ali@example.com', '192.0.2.1', 1000, policy)).allowed) allowed++;
    await store.close();
    process.stdout.write(String(allowed));`;
  const counts = await Promise.all(
    Array.from(
      { length: 4 },
      () =>
        new Promise<number>((resolve, reject) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', worker], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          child.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
          });
          child.once('exit', (code) =>
            code === 0 ? resolve(Number(out)) : reject(new Error(`exit ${code}`)),
          );
        }),
    ),
  );
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    5,
    `allowed per process: ${counts.join(', ')}`,
  );
  const store = new SqliteStore(path);
  assert.deepEqual(
    (await store.getLoginAttempts('ali@example.com', 1000)).map((r) => r.attempts),
    [5, 5],
  );
  await store.close();
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
  const committed = await linesBeforeKill(writer, 300);
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

test('migration 4 on an older database: one key pair per org, normalised user names, sealed-key columns', async () => {
  const { path, old } = databaseAt('v2-before-identity.db', 2);
  for (const org of ['org-a', 'org-b', 'org-c'])
    old.prepare('INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)').run(org, org, NOW);
  const { spkiPem, thumbprint } = intakePublicKey(rsaPair(2048).publicPem);
  const other = intakePublicKey(rsaPair(2048).publicPem);
  const insertKey = old.prepare(
    `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, roles, default_role, created_at)
     VALUES (?, ?, ?, ?, 'rsa', 2048, 'active', 'user', 'user', ?)`,
  );
  insertKey.run('key-b', 'org-b', spkiPem, thumbprint, NOW + 1);
  insertKey.run('key-a', 'org-a', spkiPem, thumbprint, NOW);
  insertKey.run('key-c', 'org-c', other.spkiPem, other.thumbprint, NOW);
  const insertUser = old.prepare(
    `INSERT INTO users (id, org_id, email, screen_name, role, status, password_hash, created_at)
     VALUES (?, 'org-a', ?, 'x', ?, 'active', 'hash', ?)`,
  );
  // As the trim().toLowerCase() of earlier versions stored them: one person, four accounts.
  insertUser.run('u-nfd', 'jose\u0301@example.com', 'user', NOW);
  insertUser.run('u-nfc', 'jos\u00e9@example.com', 'admin', NOW + 1);
  insertUser.run('u-wide', '\uff4bate@example.com', 'user', NOW);
  insertUser.run('u-kate', 'kate@example.com', 'user', NOW + 2);
  insertUser.run('u-plain', 'plain@example.com', 'device', NOW);
  const insertSession = old.prepare(
    'INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)',
  );
  insertSession.run('s-nfc', 'u-nfc', NOW, NOW, NOW + 100);
  insertSession.run('s-plain', 'u-plain', NOW, NOW, NOW + 100);
  const insertServerKey = old.prepare(
    'INSERT INTO server_keys (id, private_pem, public_jwk, status, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  insertServerKey.run('sk-old', '-----BEGIN PRIVATE KEY-----old', '{}', 'retired', NOW - 100);
  insertServerKey.run('sk-new', '-----BEGIN PRIVATE KEY-----new', '{}', 'active', NOW - 50);
  old.close();

  const store = new SqliteStore(path);
  try {
    assert.deepEqual(
      (await Promise.all(['key-a', 'key-b', 'key-c'].map((id) => store.getKey(id)))).map((k) => k?.status),
      ['active', 'revoked', 'active'],
      'the oldest registration keeps the key pair; the later copy is revoked',
    );
    await assert.rejects(
      store.insertKey(
        {
          orgId: 'org-c',
          spkiPem,
          thumbprint,
          family: 'rsa',
          bits: 2048,
          expiresAt: null,
          roles: ['user'],
          defaultRole: 'user',
          label: null,
          ownerUserId: null,
        },
        NOW,
      ),
      /registered to another organization/,
    );
    const user = async (id: string) => {
      const found = await store.getUser(id);
      return { email: found?.email, status: found?.status };
    };
    assert.deepEqual(
      {
        nfd: await user('u-nfd'),
        nfc: await user('u-nfc'),
        wide: await user('u-wide'),
        kate: await user('u-kate'),
        plain: await user('u-plain'),
      },
      {
        nfd: { email: 'jos\u00e9@example.com', status: 'active' },
        nfc: { email: 'jos\u00e9@example.com#duplicate-u-nfc', status: 'disabled' },
        wide: { email: 'kate@example.com', status: 'active' },
        kate: { email: 'kate@example.com#duplicate-u-kate', status: 'disabled' },
        plain: { email: 'plain@example.com', status: 'active' },
      },
    );
    assert.equal((await store.getUserByEmail('jos\u00e9@example.com'))?.id, 'u-nfd');
    assert.equal((await store.getSession('s-nfc'))?.revokedReason, 'user_disabled');
    assert.deepEqual(
      {
        role: (await store.getSession('s-plain'))?.role,
        revoked: (await store.getSession('s-plain'))?.revokedAt,
      },
      { role: 'device', revoked: null },
      'sessions take the role their user has',
    );
    assert.deepEqual(await store.listServerKeys(), [
      {
        id: 'sk-old',
        sealedPrivateKey: null,
        publicJwk: '{}',
        status: 'retired',
        createdAt: NOW - 100,
        retiredAt: NOW - 50,
      },
      {
        id: 'sk-new',
        sealedPrivateKey: '-----BEGIN PRIVATE KEY-----new',
        publicJwk: '{}',
        status: 'active',
        createdAt: NOW - 50,
        retiredAt: null,
      },
    ]);
  } finally {
    await store.close();
  }
});

test('migration 7 (the key change feed) carries every key over; their later changes are in the feed', async () => {
  const { path, old } = databaseAt('v6-keys.db', 6);
  const spki = intakePublicKey(rsaPair(2048).publicPem);
  old.exec("INSERT INTO orgs (id, name, created_at) VALUES ('o1', 'Old', 1)");
  const insert = old.prepare(
    `INSERT INTO keys (id, org_id, spki_pem, thumbprint, family, bits, status, roles, default_role, created_at)
     VALUES (?, 'o1', ?, ?, 'rsa', 2048, ?, 'user', 'user', 1)`,
  );
  insert.run('k1', spki.spkiPem, 't1', 'active');
  insert.run('k2', spki.spkiPem, 't2', 'revoked');
  old.exec("UPDATE meta SET value = 41 WHERE name = 'key_revision'");
  old.close();
  const store = new SqliteStore(path);
  assert.deepEqual(
    [(await store.getKey('k1'))?.status, (await store.getKey('k2'))?.status],
    ['active', 'revoked'],
  );
  assert.equal(await store.keyRevision(), 41);
  assert.deepEqual(await store.keyChangesSince(0, 10), [], 'no node needs to be told of keys it can ask for');
  await store.setKeyStatus('k1', 'disabled');
  assert.deepEqual(await store.keyChangesSince(41, 10), [
    { id: 'k1', status: 'disabled', expiresAt: null, revokesAt: null, revision: 42 },
  ]);
  await store.close();
});

test('a database a newer Keygate upgraded is refused at open, and left as it was', () => {
  const newer = SQLITE_MIGRATIONS.length + 1;
  const { path, old } = databaseAt('newer.db', SQLITE_MIGRATIONS.length);
  old.exec(`PRAGMA user_version = ${newer}`);
  old.close();
  assert.throws(() => new SqliteStore(path), {
    message: new RegExp(`schema is at version ${newer}, newer than this Keygate's \\(${newer - 1}\\)`),
  });
  const db = new DatabaseSync(path);
  assert.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, newer);
  db.close();
});
