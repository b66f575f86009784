import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AUDIT_ACTION_LIST, AUDIT_ACTIONS, auditDetail } from '../../src/core/audit.ts';
import { LIMIT_EXPECTED, parseLimit, parseSince, SINCE_EXPECTED } from '../../src/core/audit-query.ts';

const NOW = 1_800_000_000;
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README lists exactly the audit actions of the registry, with the same descriptions', () => {
  const documented = [...readme.matchAll(/^\| `([a-z_]+\.[a-z_]+)` +\| (.+?) +\|$/gm)];
  assert.deepEqual(
    documented.map(([, action]) => action),
    AUDIT_ACTION_LIST,
  );
  for (const [, action, description] of documented)
    assert.equal(description, AUDIT_ACTIONS[action as keyof typeof AUDIT_ACTIONS].description, action);
});

test('since reads an ISO 8601 time or a duration back from now', () => {
  for (const [text, value] of [
    ['30m', NOW - 1800],
    ['1h', NOW - 3600],
    ['7d', NOW - 7 * 86400],
    ['2w', NOW - 14 * 86400],
    ['90s', NOW - 90],
    ['2026-05-01', Date.UTC(2026, 4, 1) / 1000],
    ['2026-05-01T12:00:00Z', Date.UTC(2026, 4, 1, 12) / 1000],
    ['2026-05-01T12:00:00+02:00', Date.UTC(2026, 4, 1, 10) / 1000],
  ] as const)
    assert.deepEqual(parseSince(text, NOW), { ok: true, value }, text);
  for (const text of [
    '',
    'yesterday',
    '1',
    '7',
    'May 3',
    '1y',
    '-1h',
    '1.5h',
    '2026-13-45',
    '1h ago',
    '9999999d',
  ])
    assert.deepEqual(parseSince(text, NOW), { ok: false, expected: SINCE_EXPECTED }, text);
});

test('limit is a whole number from 1 to 500', () => {
  for (const [text, value] of [
    ['1', 1],
    ['50', 50],
    ['500', 500],
  ] as const)
    assert.deepEqual(parseLimit(text), { ok: true, value }, text);
  for (const text of ['0', '501', '-1', '2.5', '1e2', 'ten', '', '99999'])
    assert.deepEqual(parseLimit(text), { ok: false, expected: LIMIT_EXPECTED }, text);
});

test('a detail keeps small values and refuses a member named for a secret', () => {
  assert.deepEqual(auditDetail({ reason: 'wrong_password', count: 3, ok: false, label: null }), {
    reason: 'wrong_password',
    count: 3,
    ok: false,
    label: null,
  });
  assert.deepEqual(auditDetail({ label: 'x'.repeat(500) }), { label: 'x'.repeat(200) });
  for (const name of [
    'pass_hash',
    'password',
    'token',
    'secret',
    'private_key',
    'passwordHash',
    'credential',
  ])
    assert.throws(() => auditDetail({ [name]: 'v' }), {
      name: 'TypeError',
      message: `An audit detail may not hold "${name}".`,
    });
});
