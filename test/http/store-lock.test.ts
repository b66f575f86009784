import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES } from '../../src/core/error-codes.ts';
import { buildApp } from '../../src/http/app.ts';
import { startKeygate } from '../../src/service/keygate.ts';
import { NOW, POLICY } from '../helpers.ts';
import { describeStalls, holdLock, loopTicker, stallsUnder } from '../store/lock-holder.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** One run: returns the longer of the event loop's longest stall and /healthz's answer time. */
async function loginsWhileLocked(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-http-lock-'));
  const keygate = await startKeygate({
    database: join(dir, 'keygate.db'),
    policy: POLICY,
    clock: () => NOW,
    storeLockWaitMs: 300,
    secret: randomBytes(32),
  });
  const app = await buildApp(keygate, { loginRateLimit: 1000 });
  try {
    const org = await keygate.keys.createOrg('Locked Org');
    await keygate.users.create({ orgId: org.id, email: 'ali@example.com', passHash: sha256('right') });
    const login = (user: string, password: string) =>
      app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ user, pass_hash: sha256(password) }),
      });
    // Plugins load and routes compile on the first request: not what this test measures.
    assert.equal((await login('nobody@example.com', 'warm-up')).statusCode, 401);
    const lock = await holdLock(join(dir, 'keygate.db'), 1500);
    const ticker = loopTicker();
    const healthStarted = performance.now();
    const [wrongPassword, rightPassword, unknownUser, health] = await Promise.all([
      login('ali@example.com', 'wrong'),
      login('ali@example.com', 'right'),
      login('nobody@example.com', 'wrong'),
      app.inject({ method: 'GET', url: '/healthz' }).then((response) => ({
        response,
        ms: performance.now() - healthStarted,
      })),
    ]);
    const stall = ticker.stop();
    assert.equal(health.response.statusCode, 200);
    const { message, hint } = ERROR_CODES.unavailable;
    for (const response of [wrongPassword, rightPassword, unknownUser]) {
      assert.equal(response.statusCode, 503, response.body);
      assert.equal(response.headers['retry-after'], '1');
      const { debug_info: _, ...body } = response.json();
      assert.deepEqual(body, { status: 503, error: { code: 'unavailable', message, hint } });
    }
    // Once the lock is gone, a wrong password is refused and counted again (the 503s counted nothing).
    await lock.released;
    assert.equal((await login('ali@example.com', 'wrong')).statusCode, 401);
    const counted = await keygate.store.getLoginAttempts('ali@example.com', NOW + 1);
    assert.equal(counted.find((a) => a.address !== null)?.attempts, 1);
    return Math.max(stall, health.ms);
  } finally {
    await app.close();
    await keygate.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('while another process holds the database past the wait, a login answers 503 unavailable alike for an existing and an unknown user, and /healthz stays prompt', async (t) => {
  const stalls = await stallsUnder(100, loginsWhileLocked);
  t.diagnostic(describeStalls(stalls));
  assert.ok(Math.min(...stalls) < 100, describeStalls(stalls));
});
