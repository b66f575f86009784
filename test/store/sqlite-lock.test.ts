import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { intakePublicKey } from '../../src/core/key-intake.ts';
import { DEFAULT_LOGIN_THROTTLE } from '../../src/core/login-throttle.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { boundToken, jtiPair } from '../../src/store/sqlite-jti.ts';
import { LockWait } from '../../src/store/sqlite-lock-wait.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';
import { NOW, rsaPair } from '../helpers.ts';
import { describeStalls, holdLock, loopTicker, stallsUnder } from './lock-holder.ts';

const dir = mkdtempSync(join(tmpdir(), 'keygate-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newPath = () => join(dir, `lock-${++files}.db`);

function count(path: string, table: string): number {
  const db = new DatabaseSync(path);
  try {
    return Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

const user = (orgId: string, email: string) => ({
  id: randomUUID(),
  orgId,
  email,
  screenName: 'U',
  role: 'user' as const,
  status: 'active' as const,
  passwordHash: 'x',
  failedLogins: 0,
  lockedUntil: null,
  createdAt: NOW,
});

test('writes waiting for another process to release its lock leave the event loop free and complete after the release, transactions exactly once', async (t) => {
  const key = intakePublicKey(rsaPair(2048).publicPem);
  const stalls = await stallsUnder(100, async () => {
    const path = newPath();
    const store = new SqliteStore(path, { lockWaitMs: 10_000 });
    const org = await store.createOrg({ name: 'Before the lock' }, NOW);
    const revision = await store.keyRevision();
    const lock = await holdLock(path, 1500);
    const ticker = loopTicker();
    const started = Date.now();
    const [inserted] = await Promise.all([
      store.insertKey(
        {
          orgId: org.id,
          spkiPem: key.spkiPem,
          thumbprint: key.thumbprint,
          family: key.family,
          bits: key.bits,
          expiresAt: null,
          roles: ['user'],
          defaultRole: 'user',
          label: null,
          ownerUserId: null,
        },
        NOW,
      ),
      ...Array.from({ length: 200 }, (_, i) => store.createOrg({ name: `waiting-${i}` }, NOW)),
      // Reads need no write lock in WAL mode: they are answered while the writes wait.
      store.getOrg(org.id).then((found) => {
        assert.equal(found?.name, 'Before the lock');
        assert.ok(Date.now() - started < 500, 'the read did not wait for the lock');
      }),
    ]);
    const finished = Date.now();
    const stall = ticker.stop();
    const releasedAt = await lock.released;
    assert.ok(finished >= releasedAt, 'the writes completed after the other process let go');
    assert.ok(finished - started >= 1000, `the writes waited (${finished - started} ms)`);
    assert.equal((await store.listOrgs()).length, 201);
    assert.deepEqual(
      (await store.listKeys(org.id)).map((k) => k.id),
      [inserted.id],
    );
    assert.equal(await store.keyRevision(), revision + 1, 'the retried transaction ran exactly once');
    await store.close();
    return stall;
  });
  t.diagnostic(describeStalls(stalls));
  assert.ok(Math.min(...stalls) < 100, describeStalls(stalls));
});

test('a write that cannot get the lock within the wait rejects with StoreUnavailableError, holds nothing, and the store serves again once the lock is gone', async (t) => {
  const stalls = await stallsUnder(100, async () => {
    const path = newPath();
    const store = new SqliteStore(path, { lockWaitMs: 200 });
    const org = await store.createOrg({ name: 'Locked out' }, NOW);
    const ali = await store.createUser(user(org.id, 'locked@example.com'));
    const lock = await holdLock(path, 1500);
    const ticker = loopTicker();
    const started = performance.now();
    const writes = [
      () => store.createOrg({ name: 'never' }, NOW),
      () => store.reserveLoginAttempt(ali.email, '127.0.0.1', NOW, DEFAULT_LOGIN_THROTTLE),
      () => store.setUserStatus(ali.id, 'disabled', NOW),
      () => store.touchSession('no-such-session', NOW),
    ];
    for (const write of writes) {
      await assert.rejects(write(), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.equal(error.refusal.code, 'unavailable');
        assert.match(error.message, /locked/);
        return true;
      });
    }
    const waited = performance.now() - started;
    // Reads need no write lock in WAL mode: a login's user lookup is answered meanwhile.
    assert.equal((await store.getUserByEmail(ali.email))?.id, ali.id);
    const stall = ticker.stop();
    assert.ok(waited >= 4 * 190 && waited < 1500, `four writes waited ${waited.toFixed(0)} ms in all`);
    // Our connection holds no lock and no open transaction: another one writes as soon as the
    // lock holder lets go.
    await lock.released;
    const other = new DatabaseSync(path);
    other.prepare('UPDATE orgs SET name = ? WHERE id = ?').run('Renamed', org.id);
    other.close();
    assert.deepEqual(
      await store.getLoginAttempts(ali.email, NOW),
      [],
      'the refused write left nothing behind',
    );
    assert.equal((await store.getUser(ali.id))?.status, 'active');
    await store.reserveLoginAttempt(ali.email, '127.0.0.1', NOW, DEFAULT_LOGIN_THROTTLE);
    assert.equal((await store.getLoginAttempts(ali.email, NOW)).find((a) => a.address !== null)?.attempts, 1);
    assert.deepEqual(
      (await store.listOrgs()).map((o) => o.name),
      ['Renamed'],
    );
    await store.close();
    return stall;
  });
  t.diagnostic(describeStalls(stalls));
  assert.ok(Math.min(...stalls) < 100, describeStalls(stalls));
});

test('closing the store ends the writes waiting for a lock at once, as unavailable', async () => {
  const path = newPath();
  const store = new SqliteStore(path, { lockWaitMs: 10_000 });
  const lock = await holdLock(path, 1500);
  const waiting = Promise.allSettled([
    store.createOrg({ name: 'a' }, NOW),
    store.createOrg({ name: 'b' }, NOW),
  ]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closedAt = performance.now();
  await store.close();
  const results = await waiting;
  assert.ok(performance.now() - closedAt < 200, 'the waiting writes did not wait for their budget');
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.ok(result.status === 'rejected' && result.reason instanceof StoreUnavailableError);
  }
  await lock.released;
});

// As the server runs it: WAL checkpoints (and their fsync) in the worker thread, not in the loop.
test('pruning 200k expired jti bindings never holds the event loop for long, and removes exactly the expired ones', async (t) => {
  const stalls = await stallsUnder(50, async () => {
    const path = newPath();
    const store = new SqliteStore(path, { backgroundCheckpoints: true });
    const db = new DatabaseSync(path);
    const insert = db.prepare('INSERT INTO jti_bindings (pair, token, expires_at) VALUES (?, ?, ?)');
    const token = boundToken('h'.repeat(43));
    db.exec('BEGIN');
    for (let i = 0; i < 200_000; i++) insert.run(jtiPair(`org-${i % 7}`, `jti-${i}`), token, NOW - (i % 3));
    for (let i = 0; i < 1000; i++) insert.run(jtiPair('org-live', `jti-${i}`), token, NOW + 1 + i);
    db.exec('COMMIT');
    // The pruning starts from a checkpointed file, not with the inserts above still in the WAL.
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const ticker = loopTicker();
    const pruned = await store.pruneJti(NOW);
    const stall = ticker.stop();
    assert.equal(pruned, 200_000);
    assert.equal(count(path, 'jti_bindings'), 1000);
    assert.equal(await store.pruneJti(NOW), 0);
    await store.close();
    return stall;
  });
  t.diagnostic(describeStalls(stalls));
  assert.ok(Math.min(...stalls) < 50, describeStalls(stalls));
});

test('pruning 30k ended sessions never holds the event loop for long, and keeps every live one', async (t) => {
  const stalls = await stallsUnder(50, async () => {
    const path = newPath();
    const store = new SqliteStore(path, { backgroundCheckpoints: true });
    const org = await store.createOrg({ name: 'Sessions' }, NOW);
    const owner = await store.createUser(user(org.id, 'sessions@example.com'));
    const db = new DatabaseSync(path);
    const insert = db.prepare(
      'INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    );
    db.exec('BEGIN');
    // Live sessions among the ended ones, as a change of the session policy would leave them.
    for (let i = 0; i < 30_300; i++) {
      const live = i % 101 === 0;
      insert.run(randomUUID(), owner.id, NOW - 100, NOW - 100, live ? NOW + 100 : NOW - (i % 5));
    }
    db.exec('COMMIT');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const ticker = loopTicker();
    const pruned = await store.pruneSessions(NOW);
    const stall = ticker.stop();
    assert.equal(pruned, 30_000);
    assert.equal(count(path, 'sessions'), 300);
    await store.close();
    return stall;
  });
  t.diagnostic(describeStalls(stalls));
  assert.ok(Math.min(...stalls) < 50, describeStalls(stalls));
});

test('while the checkpoint thread holds writes back, writes wait with timers and reads go on', async () => {
  const wait = new LockWait(1000, () => {});
  const release = wait.hold();
  const ran: string[] = [];
  const write = wait.run(() => ran.push('write'), 'write');
  assert.equal(await wait.run(() => ran.push('read'), 'read'), 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ran, ['read'], 'the write has not run while held');
  release();
  release();
  await write;
  assert.deepEqual(ran, ['read', 'write']);
});

test('a hold never outlasts the lock wait budget of a write', async () => {
  const wait = new LockWait(50, () => {});
  wait.hold();
  await assert.rejects(
    wait.run(() => 'never', 'write'),
    StoreUnavailableError,
  );
});
