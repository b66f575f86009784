import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/core/audit.ts';
import { AuditLog } from '../../src/service/audit-log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';

const NOW = 1_800_000_000;

const failed = (n: number): AuditEvent => ({
  at: NOW,
  orgId: null,
  actor: { type: 'anonymous' },
  action: 'login.failed',
  target: null,
  detail: { reason: 'unknown_user', address: `203.0.113.${n % 250}` },
});

test('a flood of failed logins holds at most maxPending events besides the batch being written, and the trail says how many were dropped', async () => {
  const store = new SqliteStore(':memory:');
  const log = new AuditLog(store, () => NOW + 5, { maxPending: 100, flushMs: 60_000 });
  try {
    // Recorded synchronously, as a flood's handlers would be between two turns of the loop: the
    // 100th event sends its batch to the store, the next 100 wait behind it, the rest are dropped.
    for (let n = 0; n < 5000; n++) {
      log.record(failed(n));
      assert.ok(log.pendingSize <= 100);
    }
    assert.equal(log.dropped, 4800);
    await log.flush();
    const trail = await store.listAudit({ limit: 500 });
    assert.equal(trail.length, 201);
    assert.deepEqual(
      { ...trail[0], id: 0 },
      {
        id: 0,
        at: NOW + 5,
        orgId: null,
        actor: { type: 'system' },
        action: 'audit.events_dropped',
        target: null,
        detail: { count: 4800 },
      },
    );
    assert.deepEqual(
      trail.slice(1).map(({ id: _id, ...event }) => event),
      Array.from({ length: 200 }, (_, n) => failed(199 - n)),
    );
    await log.flush();
    assert.equal((await store.listAudit({ limit: 500 })).length, 201, 'nothing is written twice');
  } finally {
    await log.close();
    await store.close();
  }
});

test('a batch the store cannot take is counted as dropped, and said so by the next write', async () => {
  const store = new SqliteStore(':memory:');
  let refuse = true;
  const flaky = Object.assign(Object.create(store) as SqliteStore, {
    appendAudit: (events: readonly AuditEvent[]) =>
      refuse ? Promise.reject(new StoreUnavailableError('down')) : store.appendAudit(events),
  });
  const log = new AuditLog(flaky, () => NOW, { flushMs: 60_000 });
  try {
    log.record(failed(1));
    log.record(failed(2));
    await log.flush();
    assert.equal(log.dropped, 2);
    refuse = false;
    log.record(failed(3));
    await log.flush();
    const trail = (await store.listAudit({ limit: 10 })).map(({ action, detail }) => [action, detail]);
    assert.deepEqual(trail, [
      ['audit.events_dropped', { count: 2 }],
      ['login.failed', failed(3).detail],
    ]);
  } finally {
    await log.close();
    await store.close();
  }
});
