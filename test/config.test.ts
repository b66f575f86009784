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

test('timeouts and connection caps: documented defaults, set from the environment, refused when unsafe', () => {
  assert.deepEqual(loadConfig({}).limits, {
    requestTimeoutMs: 10_000,
    headersTimeoutMs: 5_000,
    keepAliveTimeoutMs: 65_000,
    maxConnections: 10_000,
    maxConnectionsPerAddress: 256,
  });
  assert.deepEqual(
    loadConfig({
      KEYGATE_REQUEST_TIMEOUT_MS: '30000',
      KEYGATE_HEADERS_TIMEOUT_MS: '30000',
      KEYGATE_KEEP_ALIVE_TIMEOUT_MS: '65000',
      KEYGATE_MAX_CONNECTIONS: '50000',
      KEYGATE_MAX_CONNECTIONS_PER_ADDRESS: '0',
    }).limits,
    {
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      maxConnections: 50_000,
      maxConnectionsPerAddress: 0,
    },
  );
  for (const [name, value] of [
    ['KEYGATE_REQUEST_TIMEOUT_MS', '0'],
    ['KEYGATE_REQUEST_TIMEOUT_MS', '10s'],
    ['KEYGATE_HEADERS_TIMEOUT_MS', '-1'],
    ['KEYGATE_KEEP_ALIVE_TIMEOUT_MS', '0'],
    ['KEYGATE_MAX_CONNECTIONS', '0'],
    ['KEYGATE_MAX_CONNECTIONS', '1e9'],
    ['KEYGATE_MAX_CONNECTIONS_PER_ADDRESS', '-5'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      `${name}=${value}`,
    );
  }
  assert.throws(
    () => loadConfig({ KEYGATE_HEADERS_TIMEOUT_MS: '20000' }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message ===
        'KEYGATE_HEADERS_TIMEOUT_MS=20000 is longer than KEYGATE_REQUEST_TIMEOUT_MS=10000: the headers are part of the request.',
  );
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
