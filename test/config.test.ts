import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, readPepper } from '../src/config.ts';

test('defaults are the documented ones', () => {
  const config = loadConfig({});
  assert.deepEqual(
    {
      port: config.port,
      host: config.host,
      database: config.database,
      policy: config.policy,
      session: config.session.idleSeconds,
      max: config.session.absoluteSeconds,
    },
    {
      port: 8080,
      host: '127.0.0.1',
      database: './data/keygate.db',
      policy: { audiences: ['api.happypathology.com'], leewaySeconds: 60, maxLifetimeSeconds: 3600 },
      session: 1800,
      max: 43200,
    },
  );
  assert.equal(loadConfig({ KEYGATE_PORT: '9000' }, { port: '9001' }).port, 9001, 'flags win');
  assert.equal(loadConfig({}).storeLockWaitMs, 3000);
  assert.equal(loadConfig({ KEYGATE_STORE_LOCK_WAIT_MS: '250' }).storeLockWaitMs, 250);
  assert.deepEqual(loadConfig({ KEYGATE_AUDIENCES: ' us.api.example , api.example ' }).policy.audiences, [
    'us.api.example',
    'api.example',
  ]);
});

test('bad values are refused naming the variable', () => {
  for (const [name, value] of [
    ['KEYGATE_PORT', 'eighty'],
    ['KEYGATE_PORT', '70000'],
    ['KEYGATE_LEEWAY_SECONDS', '-1'],
    ['KEYGATE_MAX_TOKEN_LIFETIME_SECONDS', '1.5'],
    ['KEYGATE_AUDIENCES', ' , '],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(name),
    );
  }
});

test('the pepper file must exist, be private and hold at least 16 bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-pepper-'));
  const path = join(dir, 'pepper');
  writeFileSync(path, 'x'.repeat(32), { mode: 0o644 });
  assert.throws(() => readPepper(path), /readable by others/);
  chmodSync(path, 0o600);
  assert.equal(readPepper(path)?.length, 32);
  writeFileSync(path, 'short');
  assert.throws(() => readPepper(path), /at least 16/);
  assert.throws(() => readPepper(join(dir, 'missing')), /cannot be read/);
  assert.equal(readPepper(undefined), undefined);
  rmSync(dir, { recursive: true, force: true });
});
