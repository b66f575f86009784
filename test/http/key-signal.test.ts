import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { startKeygate } from '../../src/service/keygate.ts';
import { AUD, ecPair, NOW, POLICY, signJwt } from '../helpers.ts';
import { type TestRedis, withTestRedis } from '../store/redis-test-server.ts';

// Key-change messages over Redis pub/sub: a node that changes a key tells the others, which read
// the key change feed at once. The nodes here poll once a minute, so only the message can bring
// a change within the test.

const whoami = (app: FastifyInstance, token: string) =>
  app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });

await withTestRedis('key-change messages over Redis', (redis) => {
  pushed(redis);
});

test('with Redis unreachable, key changes still succeed and apply here: a message that cannot go out is only a later poll elsewhere', async (t) => {
  const keygate = await startKeygate({
    database: ':memory:',
    policy: POLICY,
    clock: () => NOW,
    // Nothing listens on port 1.
    redis: { url: 'redis://127.0.0.1:1', timeoutMs: 50 },
  });
  t.after(() => keygate.close());
  const org = await keygate.keys.createOrg('No Redis');
  const { key_id } = await keygate.keys.registerKey({
    orgId: org.id,
    publicKey: ecPair().publicPem,
    grantedByAdmin: true,
  });
  assert.equal((await keygate.keys.setKeyStatus(key_id, 'revoked')).status, 'revoked');
  assert.equal((await keygate.directory.resolve(key_id))?.record.status, 'revoked');
});

function pushed(redis: TestRedis): void {
  test('a key revoked on one node is refused on another at once, long before its poll', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-push-'));
    const prefix = redis.newPrefix();
    const options = {
      database: join(dir, 'keygate.db'),
      secret: randomBytes(32),
      policy: POLICY,
      clock: () => NOW,
      pollMs: 60_000,
      redis: { url: redis.url, prefix },
    };
    const nodes = [await startKeygate(options), await startKeygate(options)];
    const [a, b] = (await Promise.all(nodes.map((node) => buildApp(node)))) as [
      FastifyInstance,
      FastifyInstance,
    ];
    t.after(async () => {
      await a.close();
      await b.close();
      for (const node of nodes) await node.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const [first] = nodes as [NonNullable<(typeof nodes)[0]>];
    const org = await first.keys.createOrg('Pushed');
    const pair = ecPair();
    const { key_id } = await first.keys.registerKey({
      orgId: org.id,
      publicKey: pair.publicPem,
      grantedByAdmin: true,
    });
    const token = signJwt(
      { alg: 'ES256', typ: 'JWT' },
      { aud: AUD, exp: NOW + 600, iat: NOW, iss: org.id, sub: 'alice', jti: 'pushed', kid: key_id },
      pair.privateKey,
    );
    assert.equal((await whoami(b, token)).statusCode, 200, 'registered on A, used on B at once');
    assert.equal((await whoami(b, token)).statusCode, 200, 'and cached on B');
    // Both nodes subscribed before the change that must reach B.
    const subscribers = async () =>
      ((await redis.admin.pubsub('NUMSUB', `${prefix}key-changes`)) as [string, number])[1];
    for (let i = 0; (await subscribers()) < nodes.length; i++) {
      assert.ok(i < 400, `${await subscribers()} of ${nodes.length} nodes subscribed`);
      await sleep(5);
    }
    await first.keys.setKeyStatus(key_id, 'revoked');
    const revokedAt = performance.now();
    for (;;) {
      const answer = await whoami(b, token);
      if (answer.statusCode === 401) {
        assert.equal(answer.json().error.code, 'key_revoked');
        break;
      }
      assert.equal(answer.statusCode, 200);
      assert.ok(performance.now() - revokedAt < 1000, 'refused within a second, with a poll a minute away');
      await sleep(5);
    }
    t.diagnostic(`refused on B ${(performance.now() - revokedAt).toFixed(1)} ms after the revocation on A`);
  });
}
