import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, waitForHealth } from './server-process.ts';

// SIGTERM while requests are under way: every one is answered, then the server exits 0 and the
// port is closed; with --workers 2 the primary waits for both workers.

const MAIN = new URL('../../bin/keygate.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keygate-stop-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// At debug the server logs each request it has read: the test signals once it has them all.
const env = { ...process.env, KEYGATE_DATABASE: join(dir, 'keygate.db'), KEYGATE_LOG_LEVEL: 'debug' };
const PASSWORD = 'a passphrase for the stop test';

function cli(args: string[], input = ''): Record<string, string> {
  const result = spawnSync(process.execPath, [MAIN, ...args, '--json'], { env, input, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, string>;
}

const org = cli(['org', 'create', '--name', 'Stop Org']);
// One account per login: attempts on one account are counted, and this test is not about that.
const USERS = Array.from({ length: 6 }, (_, i) => `stop${i}@example.com`);
for (const email of USERS)
  cli(['user', 'create', '--org', org.org_id as string, '--email', email, '--password-stdin'], PASSWORD);

for (const workers of ['1', '2']) {
  test(`--workers ${workers}: logins under way when SIGTERM arrives are all answered, then the server exits 0`, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = spawn(process.execPath, [MAIN, 'serve', '--port', String(port), '--workers', workers], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    server.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let log = '';
    server.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const received = () => log.split('"url":"/auth/login"').length - 1;
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      server.once('exit', (code) => resolve({ code, at: performance.now() })),
    );
    await waitForHealth(url, server);
    const passHash = createHash('sha256').update(PASSWORD).digest('hex');
    // Each login hashes with argon2id (tens of milliseconds, one or two at a time): most of
    // these are still queued or hashing when the signal arrives.
    const logins = USERS.map((user) =>
      fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, pass_hash: passHash }),
      }).then((response) => response.status),
    );
    while (received() < USERS.length) await new Promise((resolve) => setTimeout(resolve, 5));
    const signalledAt = performance.now();
    server.kill('SIGTERM');
    assert.deepEqual(await Promise.all(logins), [202, 202, 202, 202, 202, 202]);
    const { code, at } = await exited;
    assert.equal(code, 0, stderr);
    assert.ok(at - signalledAt < 10_000, `stopped ${(at - signalledAt).toFixed(0)} ms after SIGTERM`);
    assert.doesNotMatch(stderr, /exiting anyway|stopping failed/);
    await assert.rejects(fetch(`${url}/healthz`), 'nothing listens on the port any more');
  });
}
