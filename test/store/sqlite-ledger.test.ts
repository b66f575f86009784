import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { jtiPair, olderBoundToken } from '../../src/store/sqlite-jti.ts';
import { JTI_ENTRY_BYTES, jtiEntry } from '../../src/store/sqlite-jti-entries.ts';
import type { JtiClaim } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { linesBeforeKill } from './killed-writer.ts';

// The embedded store's replay ledger in its two tables (sqlite-jti.ts): recent bindings appended
// and indexed in memory, older ones moved to the index on disk once the memory is full. What it
// promises is the ledger contract (ledger-contract.ts, run by sqlite.test.ts); these tests drive
// it across that move, across connections and across failures.

const dir = mkdtempSync(join(tmpdir(), 'keygate-ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const claim = (jti: string, tokenHash = `token-${jti}`, expiresAt = NOW + 3600): JtiClaim => ({
  iss: 'org',
  jti,
  tokenHash,
  expiresAt,
});

/** Bindings held in `table`: a row each in jti_bindings, a commit's to a row in jti_recent. */
function rows(path: string, table: 'jti_recent' | 'jti_bindings'): number {
  const db = new DatabaseSync(path, { readOnly: true });
  const bindings =
    table === 'jti_recent' ? `coalesce(sum(length(entries)), 0) / ${JTI_ENTRY_BYTES}` : 'count(*)';
  try {
    return Number((db.prepare(`SELECT ${bindings} AS n FROM ${table}`).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

/** The move to disk runs after the commit that filled the memory: lets it finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

async function bindAll(store: SqliteStore, claims: JtiClaim[], batch: number, now = NOW): Promise<void> {
  for (let i = 0; i < claims.length; i += batch) {
    const answers = await store.bindJtis(claims.slice(i, i + batch), now);
    assert.deepEqual(new Set(answers), new Set(['bound']), `batch at ${i}`);
    await settle();
  }
}

test('past its memory bound, the ledger moves its oldest bindings to disk and still answers for every one', async () => {
  const path = join(dir, 'spill.db');
  const store = new SqliteStore(path, { recentJtiEntries: 50 });
  const claims = Array.from({ length: 400 }, (_, i) => claim(`j${i}`));
  await bindAll(store, claims, 20);
  const recent = rows(path, 'jti_recent');
  assert.ok(recent <= 50, `${recent} recent rows, bound 50`);
  assert.equal(recent + rows(path, 'jti_bindings'), 400, 'every binding is in one table or the other');
  for (const { jti, tokenHash } of claims) {
    assert.equal(await store.peekJti('org', jti, tokenHash, NOW), 'same-token', jti);
    assert.equal(await store.peekJti('org', jti, 'another token', NOW), 'reused', jti);
  }
  const again = claims.map(({ jti }) => claim(jti, 'another token'));
  assert.deepEqual(new Set(await store.bindJtis(again, NOW)), new Set(['reused']));
  assert.deepEqual(new Set(await store.bindJtis(claims, NOW)), new Set(['same-token']));
  await store.close();
});

test('two connections on one file: each sees the bindings the other made, before and after the other moves them', async () => {
  const path = join(dir, 'two.db');
  const a = new SqliteStore(path, { recentJtiEntries: 30 });
  const b = new SqliteStore(path, { recentJtiEntries: 30 });
  const fromA = Array.from({ length: 100 }, (_, i) => claim(`a${i}`));
  await bindAll(a, fromA, 10);
  const taken = await b.bindJtis(
    fromA.map(({ jti }) => claim(jti, 'token of b')),
    NOW,
  );
  assert.deepEqual(new Set(taken), new Set(['reused']));
  // b fills its memory and moves rows a appended, and a's own, to disk.
  const fromB = Array.from({ length: 100 }, (_, i) => claim(`b${i}`));
  await bindAll(b, fromB, 10);
  for (const { jti, tokenHash } of [...fromA, ...fromB]) {
    assert.equal(await a.peekJti('org', jti, tokenHash, NOW), 'same-token', `a on ${jti}`);
    assert.equal(await a.peekJti('org', jti, 'another token', NOW), 'reused', `a on ${jti}`);
  }
  assert.deepEqual(new Set(await a.bindJtis(fromB, NOW)), new Set(['same-token']));
  await a.close();
  await b.close();
});

test('a pair bound again once its binding expired answers for the newer binding, in memory and on disk', async () => {
  const path = join(dir, 'taken-over.db');
  const store = new SqliteStore(path, { recentJtiEntries: 3 });
  assert.deepEqual(await store.bindJtis([claim('p', 'first', NOW + 10)], NOW), ['bound']);
  assert.deepEqual(await store.bindJtis([claim('p', 'second', NOW + 100)], NOW + 20), ['bound']);
  const check = async (where: string) => {
    assert.equal(await store.peekJti('org', 'p', 'second', NOW + 20), 'same-token', where);
    assert.equal(await store.peekJti('org', 'p', 'first', NOW + 20), 'reused', where);
  };
  await check('in memory');
  // Both rows of the pair move in one statement, the expired one too when the clock of the
  // connection moving them is behind (here by 20 s): the later must win there.
  await bindAll(
    store,
    Array.from({ length: 20 }, (_, i) => claim(`other${i}`)),
    5,
    NOW,
  );
  const recent = rows(path, 'jti_recent');
  assert.ok(recent <= 3 + 5, `${recent} recent rows, bound 3 and a batch of 5`);
  await check('on disk');
  await store.close();
});

test('a binding whose write fails is neither remembered nor stored: the pair binds afresh afterwards', async () => {
  const path = join(dir, 'failed.db');
  const store = new SqliteStore(path, { lockWaitMs: 150 });
  await store.bindJtis([claim('warm')], NOW);
  const other = new DatabaseSync(path);
  other.exec('BEGIN IMMEDIATE');
  await assert.rejects(store.bindJtis([claim('p', 'first')], NOW), { name: 'StoreUnavailableError' });
  other.exec('ROLLBACK');
  other.close();
  assert.deepEqual(await store.bindJtis([claim('p', 'second')], NOW), ['bound']);
  assert.equal(await store.peekJti('org', 'p', 'first', NOW), 'reused');
  // A batch that fails part-way, after its first row was written: that row goes with the rest.
  await assert.rejects(store.bindJtis([claim('q', 'first'), claim('r', 'first', Number.NaN)], NOW));
  assert.deepEqual(await store.bindJtis([claim('q', 'second')], NOW), ['bound']);
  await store.close();
});

test('kill -9 while binding: every binding acknowledged before it is still bound when the file is opened again', async () => {
  const path = join(dir, 'killed.db');
  // A small memory bound, so that bindings are moved to disk while the process is killed too.
  const writer = `
    import { writeSync } from 'node:fs';
    import { SqliteStore } from ${JSON.stringify(new URL('../../src/store/sqlite.ts', import.meta.url).href)};
    const store = new SqliteStore(${JSON.stringify(path)}, { recentJtiEntries: 40 });
    for (let i = 0; ; i += 4) {
      const claims = [0, 1, 2, 3].map((k) => ({ iss: 'org', jti: 'k' + (i + k), tokenHash: 't' + (i + k), expiresAt: ${NOW + 3600} }));
      const answers = await store.bindJtis(claims, ${NOW});
      // Synchronous, so that a reported binding is one the store has acknowledged.
      for (let k = 0; k < 4; k++) if (answers[k] === 'bound') writeSync(1, 'k' + (i + k) + '\\n');
    }`;
  const acknowledged = await linesBeforeKill(writer, 2000);
  assert.ok(acknowledged.length >= 2000, `the writer acknowledged ${acknowledged.length} bindings`);
  assert.ok(rows(path, 'jti_bindings') > 0, 'some bindings had moved to disk');
  const store = new SqliteStore(path);
  for (const jti of acknowledged) {
    assert.equal(await store.peekJti('org', jti, `t${jti.slice(1)}`, NOW), 'same-token', jti);
    assert.equal(await store.peekJti('org', jti, 'another token', NOW), 'reused', jti);
  }
  await store.close();
});

test('a token is bound by its SHA-256; bindings made before, of its digest, still know the same token', async () => {
  const path = join(dir, 'older-form.db');
  const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
  const store = new SqliteStore(path);
  await store.bindJtis([claim('warm')], NOW);
  // As the store wrote them before migration 12: one recent, one moved to the index on disk.
  const db = new DatabaseSync(path);
  db.prepare('INSERT INTO jti_recent (entries, expires_at) VALUES (?, ?)').run(
    jtiEntry(jtiPair('org', 'recent'), olderBoundToken(sha256('token r')), NOW + 60),
    NOW + 60,
  );
  db.prepare('INSERT INTO jti_bindings (pair, token, expires_at) VALUES (?, ?, ?)').run(
    jtiPair('org', 'older'),
    olderBoundToken(sha256('token o')),
    NOW + 60,
  );
  db.close();
  for (const jti of ['recent', 'older']) {
    const token = sha256(`token ${jti[0]}`);
    assert.equal(await store.peekJti('org', jti, token, NOW), 'same-token', jti);
    assert.equal(await store.peekJti('org', jti, sha256('another token'), NOW), 'reused', jti);
    assert.deepEqual(await store.bindJtis([claim(jti, token), claim(jti, sha256('another'))], NOW), [
      'same-token',
      'reused',
    ]);
  }
  const fresh = sha256('token f');
  assert.deepEqual(await store.bindJtis([claim('fresh', fresh)], NOW), ['bound']);
  assert.equal(await store.peekJti('org', 'fresh', fresh, NOW), 'same-token');
  assert.equal(await store.peekJti('org', 'fresh', sha256('token g'), NOW), 'reused');
  await store.close();
});

test("a row's bindings are found at their own place, not where a pair's bytes recur inside another's", async () => {
  const path = join(dir, 'recurring.db');
  await new SqliteStore(path).close();
  const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
  const [a, b] = [jtiPair('org', 'a'), jtiPair('org', 'b')];
  const tokenOfB = sha256('token b');
  // a's token is b's pair, byte for byte: a plain search for b's pair meets it first.
  const db = new DatabaseSync(path);
  db.prepare('INSERT INTO jti_recent (entries, expires_at) VALUES (?, ?)').run(
    Buffer.concat([
      jtiEntry(a, b, NOW + 60),
      jtiEntry(b, Buffer.from(tokenOfB.slice(0, 22), 'base64url'), NOW + 60),
    ]),
    NOW + 60,
  );
  db.close();
  const store = new SqliteStore(path);
  assert.equal(await store.peekJti('org', 'b', tokenOfB, NOW), 'same-token');
  assert.equal(await store.peekJti('org', 'b', sha256('another'), NOW), 'reused');
  await store.close();
});
