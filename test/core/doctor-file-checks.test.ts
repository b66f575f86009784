import assert from 'node:assert/strict';
import { test } from 'node:test';
import { databaseFileCheck, pepperFileCheck, secretFileCheck } from '../../src/core/doctor-file-checks.ts';
import type { FileReading, SecretReading, ServerKeyInfo } from '../../src/core/doctor-readings.ts';

// Which file modes, sizes and absences the doctor calls a problem: those `keygate serve` refuses.

const file = (mode: number, bytes = 32): FileReading => ({ state: 'present', mode: 0o100000 | mode, bytes });
const secret = (reading: FileReading, extra: Partial<SecretReading> = {}): SecretReading => ({
  path: '/d/k.db.secret',
  configured: false,
  file: reading,
  opensActiveKey: undefined,
  ...extra,
});
const sealed: ServerKeyInfo = { id: 'k1', status: 'active', createdAt: 0, privateHalf: 'sealed' };

test('secret file: any bit for group or others, fewer than 32 bytes, or a key it does not open is a problem', () => {
  const verdict = (reading: SecretReading, keys?: ServerKeyInfo[]) => {
    const { status, detail } = secretFileCheck(reading, 'sqlite', keys);
    return [status, detail];
  };
  assert.deepEqual(verdict(secret(file(0o600), { opensActiveKey: true })), [
    'ok',
    '/d/k.db.secret, mode 600, opens the active session key.',
  ]);
  assert.deepEqual(verdict(secret(file(0o400))), ['ok', '/d/k.db.secret, mode 400.']);
  for (const mode of [0o640, 0o604, 0o610, 0o644])
    assert.deepEqual(verdict(secret(file(mode))), [
      'problem',
      `/d/k.db.secret is mode ${mode.toString(8)}, readable by others: keygate serve refuses to start. chmod 600 /d/k.db.secret, and since others could read it, run keygate server-key rotate.`,
    ]);
  assert.deepEqual(verdict(secret(file(0o600, 31))), [
    'problem',
    '/d/k.db.secret holds 31 bytes: keygate serve wants at least 32 random bytes.',
  ]);
  assert.deepEqual(verdict(secret(file(0o600), { opensActiveKey: false })), [
    'problem',
    '/d/k.db.secret does not open the active session key: the store was set up with another secret file. Use the one it was first started with.',
  ]);
  assert.deepEqual(verdict(secret({ state: 'not-a-file' })), [
    'problem',
    '/d/k.db.secret is not a regular file: name a file.',
  ]);
});

test('secret file missing: fine on a fresh install, a problem when named, or when a sealed key needs it', () => {
  const missing = secret({ state: 'missing' });
  assert.equal(secretFileCheck(missing, 'sqlite', undefined).status, 'ok');
  assert.equal(secretFileCheck(missing, 'sqlite', [{ ...sealed, privateHalf: 'plaintext' }]).status, 'ok');
  assert.equal(secretFileCheck(missing, 'sqlite', [sealed]).status, 'problem');
  assert.deepEqual(secretFileCheck({ ...missing, configured: true }, 'sqlite', undefined), {
    check: 'secret file',
    status: 'problem',
    detail:
      'KEYGATE_SECRET_FILE=/d/k.db.secret does not exist: keygate serve refuses to start. Restore it from a backup or another node.',
  });
  assert.equal(secretFileCheck({ ...missing, path: '' }, 'postgres', undefined).status, 'problem');
});

test('database file: readable by others is a warning (its secrets are sealed); PostgreSQL has none here', () => {
  assert.deepEqual(databaseFileCheck('/d/k.db', file(0o600)), {
    check: 'database file',
    status: 'ok',
    detail: '/d/k.db, mode 600.',
  });
  assert.deepEqual(databaseFileCheck('/d/k.db', file(0o644)), {
    check: 'database file',
    status: 'warn',
    detail: '/d/k.db is mode 644, readable by others (password hashes, keys): chmod 600 /d/k.db.',
  });
  assert.equal(databaseFileCheck(undefined, { state: 'missing' }).status, 'ok');
  assert.deepEqual(
    databaseFileCheck('/d/k.db', { state: 'unreadable', reason: 'EACCES: permission denied' }),
    {
      check: 'database file',
      status: 'problem',
      detail: 'Cannot look at /d/k.db: EACCES: permission denied.',
    },
  );
});

test('pepper file: unset is fine; named, it must exist, be private and hold 16 bytes', () => {
  assert.equal(pepperFileCheck(undefined, { state: 'missing' }).status, 'ok');
  assert.deepEqual(pepperFileCheck('/p', file(0o600, 16)), {
    check: 'pepper file',
    status: 'ok',
    detail: '/p, mode 600.',
  });
  assert.deepEqual(
    [
      pepperFileCheck('/p', { state: 'missing' }),
      pepperFileCheck('/p', file(0o660, 16)),
      pepperFileCheck('/p', file(0o600, 15)),
    ].map((c) => [c.status, c.detail]),
    [
      [
        'problem',
        'KEYGATE_PEPPER_FILE=/p does not exist: keygate serve refuses to start, and without it no password verifies.',
      ],
      ['problem', '/p is mode 660, readable by others: keygate serve refuses to start. chmod 600 /p.'],
      ['problem', '/p holds 15 bytes: keygate serve wants at least 16 random bytes.'],
    ],
  );
});
