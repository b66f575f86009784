import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withTestRedis } from '../store/redis-test-server.ts';
import { freePort, waitForHealth } from './server-process.ts';

// `keygate serve` with KEYGATE_REDIS_URL, as an operator runs it: the variables reach the
// server, the replay ledger is in Redis under KEYGATE_REDIS_PREFIX, and the banner says so.

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

await withTestRedis('serve with Redis', (redis) => {
  test('serve with KEYGATE_REDIS_URL: a token is bound in Redis under the prefix, and /readyz checks Redis', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-serve-redis-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, randomBytes(32), { mode: 0o600 });
    const prefix = redis.newPrefix();
    const env = {
      ...process.env,
      KEYGATE_DATABASE: join(dir, 'keygate.db'),
      KEYGATE_SECRET_FILE: secretFile,
      KEYGATE_LOG_LEVEL: 'warn',
    };
    const json = (args: string[]) => {
      const result = spawnSync(process.execPath, [MAIN, ...args, '--json'], { env, encoding: 'utf8' });
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
      return JSON.parse(result.stdout);
    };
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let banner = '';
    const server: ChildProcess = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], {
      env: {
        ...env,
        KEYGATE_REDIS_URL: redis.url,
        KEYGATE_REDIS_PREFIX: prefix,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server.stderr?.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
    });
    t.after(async () => {
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        await new Promise((resolve) => server.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    });
    await waitForHealth(base, server);
    assert.deepEqual(((await (await fetch(`${base}/readyz`)).json()) as { results: unknown }).results, {
      ok: true,
      store: 'sqlite',
      redis: 'connected',
    });

    const org = json(['org', 'create', '--name', 'Redis Org']);
    const keyPath = join(dir, 'redis.key');
    json(['keygen', '--type', 'ec', '--out', keyPath]);
    const key = json(['key', 'add', '--org', org.org_id, '--public-key', `${keyPath}.pub`]);
    const token = json([
      'token',
      '--key',
      keyPath,
      '--org',
      org.org_id,
      '--kid',
      key.key_id,
      '--sub',
      'alice',
    ]).token;
    const accepted = await fetch(`${base}/v1/whoami`, { headers: { authorization: token } });
    assert.equal(accepted.status, 200);
    const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti;
    assert.deepEqual(await redis.keys(`${prefix}jti:`), [
      `${prefix}jti:${org.org_id.length}:${org.org_id}:${jti}`,
    ]);
    assert.ok(banner.includes(`\n  redis:     ${redis.url} (keys under ${prefix})\n`), banner);
  });
});
