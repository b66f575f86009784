import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, readPepper, readSessionSecret } from '../src/config.ts';

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
  assert.equal(loadConfig({}).databasePoolSize, 10);
  assert.equal(loadConfig({ KEYGATE_DATABASE_POOL_SIZE: '40' }).databasePoolSize, 40);
  assert.equal(loadConfig({}).keyFeedMaxLagMs, 1000);
  assert.equal(loadConfig({ KEYGATE_KEY_FEED_MAX_LAG_MS: '5000' }).keyFeedMaxLagMs, 5000);
  assert.equal(loadConfig({}).keyExpiryWarningDays, 14);
  assert.equal(loadConfig({ KEYGATE_KEY_EXPIRY_WARNING_DAYS: '30' }).keyExpiryWarningDays, 30);
  assert.equal(loadConfig({ KEYGATE_KEY_EXPIRY_WARNING_DAYS: '0' }).keyExpiryWarningDays, 0);
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
    ['KEYGATE_DATABASE_POOL_SIZE', '0'],
    // Below two polls, a slow poll would pass for an outage.
    ['KEYGATE_KEY_FEED_MAX_LAG_MS', '400'],
    ['KEYGATE_KEY_EXPIRY_WARNING_DAYS', '-1'],
    ['KEYGATE_KEY_EXPIRY_WARNING_DAYS', '2.5'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(name),
    );
  }
});

test('Redis: off unless KEYGATE_REDIS_URL is set; prefix and command timeout from the environment', () => {
  const redis = (env: Record<string, string>) => {
    const { redisUrl, redisPrefix, redisTimeoutMs } = loadConfig(env);
    return { redisUrl, redisPrefix, redisTimeoutMs };
  };
  assert.deepEqual(redis({}), { redisUrl: undefined, redisPrefix: 'keygate:', redisTimeoutMs: 1000 });
  assert.deepEqual(redis({ KEYGATE_REDIS_URL: '' }).redisUrl, undefined);
  assert.deepEqual(
    redis({
      KEYGATE_REDIS_URL: 'rediss://:secret@redis.internal:6380/2',
      KEYGATE_REDIS_PREFIX: 'eu:',
      KEYGATE_REDIS_TIMEOUT_MS: '250',
    }),
    { redisUrl: 'rediss://:secret@redis.internal:6380/2', redisPrefix: 'eu:', redisTimeoutMs: 250 },
  );
  for (const [name, value] of [
    ['KEYGATE_REDIS_URL', '127.0.0.1:6379'],
    ['KEYGATE_REDIS_URL', 'postgres://127.0.0.1'],
    ['KEYGATE_REDIS_TIMEOUT_MS', '0'],
    ['KEYGATE_REDIS_TIMEOUT_MS', 'soon'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      `${name}=${value}`,
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

test('memory bounds: documented defaults, set from the environment, at least one entry each', () => {
  assert.deepEqual(loadConfig({}).memory, {
    tokenCacheEntries: 50_000,
    keyCacheEntries: 10_000,
    unknownKidEntries: 1_000,
    sessionTouchEntries: 100_000,
    rateLimitEntries: 5_000,
    recentJtiEntries: 250_000,
  });
  assert.deepEqual(
    loadConfig({
      KEYGATE_TOKEN_CACHE_ENTRIES: '1000',
      KEYGATE_KEY_CACHE_ENTRIES: '200',
      KEYGATE_UNKNOWN_KID_ENTRIES: '1',
      KEYGATE_SESSION_TOUCH_ENTRIES: '300',
      KEYGATE_RATE_LIMIT_ENTRIES: '10000000',
      KEYGATE_RECENT_JTI_ENTRIES: '5000',
    }).memory,
    {
      tokenCacheEntries: 1000,
      keyCacheEntries: 200,
      unknownKidEntries: 1,
      sessionTouchEntries: 300,
      rateLimitEntries: 10_000_000,
      recentJtiEntries: 5000,
    },
  );
  for (const [name, value] of [
    ['KEYGATE_TOKEN_CACHE_ENTRIES', '0'],
    ['KEYGATE_KEY_CACHE_ENTRIES', '-1'],
    ['KEYGATE_UNKNOWN_KID_ENTRIES', '1k'],
    ['KEYGATE_SESSION_TOUCH_ENTRIES', '2.5'],
    ['KEYGATE_RATE_LIMIT_ENTRIES', '10000001'],
    ['KEYGATE_RECENT_JTI_ENTRIES', '0'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      `${name}=${value}`,
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

test('the session secret: KEYGATE_SECRET_FILE must be private and hold 32 bytes; unset, one is made beside the database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-secret-'));
  try {
    const given = join(dir, 'given.secret');
    writeFileSync(given, randomBytes(32), { mode: 0o644 });
    chmodSync(given, 0o644);
    const database = join(dir, 'data', 'keygate.db');
    const configured = (secretFile: string) => readSessionSecret({ secretFile, database });
    assert.throws(
      () => configured(given),
      new ConfigError(`KEYGATE_SECRET_FILE=${given} is readable by others (mode 644); chmod 600 it.`),
    );
    chmodSync(given, 0o640);
    assert.throws(() => configured(given), /readable by others \(mode 640\)/);
    chmodSync(given, 0o600);
    assert.deepEqual(configured(given), readFileSync(given));
    writeFileSync(given, randomBytes(31));
    assert.throws(() => configured(given), /holds 31 bytes; use at least 32 random bytes/);
    assert.throws(() => configured(join(dir, 'missing')), /KEYGATE_SECRET_FILE=.*missing cannot be read/);
    assert.equal(existsSync(`${database}.secret`), false, 'nothing is made when the file is named');

    const made = readSessionSecret({ secretFile: undefined, database });
    const path = `${database}.secret`;
    assert.equal(made?.length, 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readSessionSecret({ secretFile: undefined, database }), made, 'never remade');
    assert.deepEqual(readdirSync(dirname(path)).sort(), ['keygate.db.secret'], 'no temporary file left');
    chmodSync(path, 0o644);
    assert.throws(() => readSessionSecret({ secretFile: undefined, database }), /readable by others/);
    assert.deepEqual(readFileSync(path), made, 'a refused file is left as it is');
    assert.equal(readSessionSecret({ secretFile: undefined, database: ':memory:' }), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('several processes making the secret file at once all read the one that won', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-secret-race-'));
  const database = join(dir, 'keygate.db');
  const script = `
    import { readSessionSecret } from ${JSON.stringify(new URL('../src/config.ts', import.meta.url).href)};
    process.stdout.write(readSessionSecret({ database: ${JSON.stringify(database)} }).toString('hex'));`;
  try {
    const outputs = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<string>((resolve, reject) => {
            execFile(process.execPath, ['--input-type=module', '-e', script], (error, stdout) =>
              error ? reject(error) : resolve(stdout),
            );
          }),
      ),
    );
    assert.equal(new Set(outputs).size, 1, outputs.join('\n'));
    assert.equal(outputs[0], readFileSync(`${database}.secret`).toString('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('KEYGATE_ACCESS_LOG is 1 or 0, and KEYGATE_METRICS_TOKEN at least 16 characters', () => {
  assert.equal(loadConfig({}).accessLog, false);
  assert.equal(loadConfig({ KEYGATE_ACCESS_LOG: '1' }).accessLog, true);
  assert.equal(loadConfig({ KEYGATE_ACCESS_LOG: '0' }).accessLog, false);
  assert.throws(() => loadConfig({ KEYGATE_ACCESS_LOG: 'yes' }), {
    name: 'ConfigError',
    message: 'KEYGATE_ACCESS_LOG="yes" is not 1 (on) or 0 (off).',
  });
  assert.equal(loadConfig({}).metricsToken, undefined);
  assert.equal(loadConfig({ KEYGATE_METRICS_TOKEN: 'a'.repeat(16) }).metricsToken, 'a'.repeat(16));
  for (const token of ['a'.repeat(15), `${'a'.repeat(16)} b`]) {
    assert.throws(() => loadConfig({ KEYGATE_METRICS_TOKEN: token }), ConfigError);
  }
});
