import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { type AuditEvent, type AuditRecord, OPERATOR, SYSTEM } from '../../src/core/audit.ts';
import { KeyCapError, type Store } from '../../src/store/store.ts';
import { NOW } from '../helpers.ts';
import { keyInput, userInput } from './store-fixtures.ts';

/** What a listing answers, without the ids the store hands out. */
const withoutIds = (records: AuditRecord[]) => records.map(({ id: _id, ...event }) => event);

/**
 * The audit trail: appended events read back newest first, and every change a store method makes
 * recorded in the transaction that makes it, by the actor the caller names; a call that changes
 * nothing, or fails, records nothing.
 */
export function auditContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract: audit trail`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    const login = (orgId: string | null, at: number, target: string | null): AuditEvent => ({
      at,
      orgId,
      actor: orgId === null ? { type: 'anonymous' } : { type: 'user', id: target ?? '' },
      action: orgId === null ? 'login.failed' : 'login.succeeded',
      target,
      detail: { address: '203.0.113.7' },
    });

    test('appended events list newest first, filtered by organization, time and cursor', async () => {
      const events = [login('o1', NOW, 'u1'), login(null, NOW + 1, null), login('o2', NOW + 2, 'u2')];
      await store.appendAudit([...events, login('o1', NOW + 3, 'u3')]);
      const all = await store.listAudit({ limit: 10 });
      assert.deepEqual(withoutIds(all), [login('o1', NOW + 3, 'u3'), ...events.toReversed()]);
      const ids = all.map((record) => record.id);
      assert.deepEqual(
        ids,
        ids.toSorted((a, b) => b - a),
      );
      assert.equal(new Set(ids).size, 4);
      assert.deepEqual(withoutIds(await store.listAudit({ orgId: 'o1', limit: 10 })), [
        login('o1', NOW + 3, 'u3'),
        login('o1', NOW, 'u1'),
      ]);
      assert.deepEqual(withoutIds(await store.listAudit({ since: NOW + 2, limit: 10 })), [
        login('o1', NOW + 3, 'u3'),
        login('o2', NOW + 2, 'u2'),
      ]);
      const [newest, second] = await store.listAudit({ limit: 2 });
      assert.deepEqual(await store.listAudit({ before: second?.id ?? 0, limit: 2 }), all.slice(2));
      assert.deepEqual(withoutIds([newest as AuditRecord]), [login('o1', NOW + 3, 'u3')]);
      assert.deepEqual(await store.listAudit({ orgId: 'o3', limit: 10 }), []);
    });

    test('organization and key changes are recorded with who made them', async () => {
      const org = await store.createOrg({ name: 'Audited' }, NOW, OPERATOR);
      const admin = { type: 'user', id: 'u-admin' } as const;
      const key = await store.insertKey(keyInput(org.id), NOW + 1, undefined, admin);
      const replacement = keyInput(org.id);
      const rotated = await store.rotateKey(key.id, replacement, NOW + 100, NOW + 2, undefined, {
        type: 'key',
        kid: 'k-admin',
      });
      assert.ok(rotated.ok);
      await store.setKeyStatus(rotated.key.id, 'disabled', OPERATOR, NOW + 3);
      await store.setKeyStatus(rotated.key.id, 'disabled', OPERATOR, NOW + 4);
      await store.setKeyStatus(rotated.key.id, 'active', OPERATOR, NOW + 5);
      assert.equal(await store.revokeDueKeys(NOW + 100), 1);
      await store.setKeyStatus(key.id, 'active', OPERATOR, NOW + 101);
      const events = withoutIds(await store.listAudit({ orgId: org.id, limit: 50 })).toReversed();
      assert.deepEqual(events, [
        {
          at: NOW,
          orgId: org.id,
          actor: OPERATOR,
          action: 'org.created',
          target: org.id,
          detail: { name: 'Audited' },
        },
        {
          at: NOW + 1,
          orgId: org.id,
          actor: admin,
          action: 'key.registered',
          target: key.id,
          detail: {
            fingerprint: key.thumbprint,
            roles: 'user',
            default_role: 'user',
            owner_user_id: null,
            label: null,
            expires_at: null,
          },
        },
        {
          at: NOW + 2,
          orgId: org.id,
          actor: { type: 'key', kid: 'k-admin' },
          action: 'key.rotated',
          target: key.id,
          detail: { replaced_by: rotated.key.id, fingerprint: replacement.thumbprint, revokes_at: NOW + 100 },
        },
        {
          at: NOW + 3,
          orgId: org.id,
          actor: OPERATOR,
          action: 'key.disabled',
          target: rotated.key.id,
          detail: { from: 'active' },
        },
        {
          at: NOW + 5,
          orgId: org.id,
          actor: OPERATOR,
          action: 'key.enabled',
          target: rotated.key.id,
          detail: { from: 'disabled' },
        },
        {
          at: NOW + 100,
          orgId: org.id,
          actor: SYSTEM,
          action: 'key.revoked',
          target: key.id,
          detail: { reason: 'rotation_grace_ended' },
        },
      ]);
    });

    test('a change that fails records nothing', async () => {
      const org = await store.createOrg({ name: 'Refused' }, NOW, OPERATOR);
      const input = keyInput(org.id);
      await store.insertKey(input, NOW, undefined, OPERATOR);
      const before = await store.listAudit({ limit: 50 });
      await assert.rejects(store.insertKey(input, NOW), { name: 'ConflictError' });
      await assert.rejects(store.insertKey(keyInput(org.id), NOW, { perOrg: 1, perOwner: 1 }), KeyCapError);
      assert.deepEqual(await store.setKeyStatus('no-such-key', 'revoked', OPERATOR), {
        ok: false,
        reason: 'not_found',
      });
      assert.equal(await store.setUserStatus('no-such-user', 'disabled', NOW, OPERATOR), undefined);
      await store.clearLoginAttempts('nobody@example.com', OPERATOR, NOW);
      assert.deepEqual(await store.listAudit({ limit: 50 }), before);
    });

    test('account changes are recorded, and no record holds the password hash', async () => {
      const org = await store.createOrg({ name: 'Accounts' }, NOW);
      const user = { ...userInput(org.id), passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' };
      await store.createUser(user, OPERATOR);
      await store.setUserStatus(user.id, 'disabled', NOW + 1, OPERATOR);
      await store.setUserStatus(user.id, 'disabled', NOW + 2, OPERATOR);
      await store.setUserStatus(user.id, 'active', NOW + 3, OPERATOR);
      await store.setUserPassword(user.id, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3', NOW + 4, {
        type: 'user',
        id: user.id,
      });
      await store.clearLoginAttempts(user.email, OPERATOR, NOW + 5);
      const events = await store.listAudit({ orgId: org.id, limit: 50 });
      assert.deepEqual(
        withoutIds(events)
          .toReversed()
          .map(({ at, actor, action, target, detail }) => [at, actor, action, target, detail]),
        [
          [NOW, SYSTEM, 'org.created', org.id, { name: 'Accounts' }],
          [NOW, OPERATOR, 'user.created', user.id, { email: user.email, role: 'user' }],
          [NOW + 1, OPERATOR, 'user.disabled', user.id, { email: user.email }],
          [NOW + 3, OPERATOR, 'user.enabled', user.id, { email: user.email }],
          [NOW + 4, { type: 'user', id: user.id }, 'user.password_changed', user.id, { email: user.email }],
          [NOW + 5, OPERATOR, 'user.unlocked', user.id, { email: user.email }],
        ],
      );
      assert.doesNotMatch(JSON.stringify(events), /argon2/);
    });

    test('pruning deletes the events from before the cut, and ids are never handed out again', async () => {
      await store.appendAudit([
        login('o1', NOW - 10, 'u1'),
        login('o1', NOW - 1, 'u2'),
        login('o1', NOW, 'u3'),
      ]);
      const [newest] = await store.listAudit({ limit: 1 });
      assert.equal(await store.pruneAudit(NOW), 2);
      assert.deepEqual(withoutIds(await store.listAudit({ limit: 10 })), [login('o1', NOW, 'u3')]);
      assert.equal(await store.pruneAudit(NOW + 1), 1);
      await store.appendAudit([login('o1', NOW + 1, 'u4')]);
      const [next] = await store.listAudit({ limit: 1 });
      assert.ok((next?.id ?? 0) > (newest?.id ?? Number.POSITIVE_INFINITY));
    });

    test('a detail member whose name says it holds a secret is refused, and nothing is written', async () => {
      const leaky = { ...login('o1', NOW, 'u1'), detail: { pass_hash: 'abc' } };
      await assert.rejects(store.appendAudit([login('o1', NOW, 'u0'), leaky]), {
        name: 'TypeError',
        message: 'An audit detail may not hold "pass_hash".',
      });
      assert.deepEqual(await store.listAudit({ limit: 10 }), []);
    });
  });
}
