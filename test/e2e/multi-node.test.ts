import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AUD, ecPair, signJwt, type TestPair } from '../helpers.ts';
import { TestDatabase } from '../store/postgres-test-database.ts';
import { TestRedis } from '../store/redis-test-server.ts';
import { KeygateNode, keygateCli, type NodeEnvironment } from './keygate-nodes.ts';

// Three `keygate serve` processes on one PostgreSQL database and one Redis, as deploy/compose.yaml
// runs two of them behind nginx: what one node writes, every other node honours, within a second
// for a revocation or a logout, and at once for a new key; one (iss, jti) binds once across nodes;
// a node killed under load costs a client that retries elsewhere nothing.

const databaseServer = process.env.KEYGATE_TEST_DATABASE_URL;
const redisServer = process.env.KEYGATE_TEST_REDIS_URL;
const NAME = 'three keygate serve nodes on one PostgreSQL and one Redis';
/** How soon a revocation or a logout must be honoured by every node. */
const WITHIN_MS = 1000;

if (!databaseServer || !redisServer) {
  const missing = [
    !databaseServer && 'KEYGATE_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)',
    !redisServer && 'KEYGATE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)',
  ].filter(Boolean);
  test(NAME, { skip: `${missing.join(' and ')} not set` });
} else {
  const [database, redis] = await Promise.all([
    TestDatabase.create(databaseServer).catch((error: Error) => error),
    TestRedis.create(redisServer).catch((error: Error) => error),
  ]);
  if (database instanceof Error || redis instanceof Error) {
    if (!(database instanceof Error)) await database.drop();
    if (!(redis instanceof Error)) await redis.drop();
    test(`${NAME}: PostgreSQL and Redis can be reached`, () => {
      const why = [
        database instanceof Error && `no test database at KEYGATE_TEST_DATABASE_URL: ${database.message}`,
        redis instanceof Error && `Redis at KEYGATE_TEST_REDIS_URL cannot be reached: ${redis.message}`,
      ].filter(Boolean);
      throw new Error(`Set but unreachable: ${why.join('; ')}`);
    });
  } else {
    multiNode(database, redis);
  }
}

interface Answer {
  status: number;
  code?: string;
  results?: Record<string, unknown>;
}

/** One request, with the answer's status and reason code (or results); throws only when no answer came. */
async function call(url: string, init: RequestInit & { token?: string } = {}): Promise<Answer> {
  const { token, ...rest } = init;
  const response = await fetch(url, {
    ...rest,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(rest.body !== undefined && { 'content-type': 'application/json' }),
    },
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { results?: Record<string, unknown>; error?: { code: string } };
  return {
    status: response.status,
    ...(body.error && { code: body.error.code }),
    ...(body.results && { results: body.results }),
  };
}

const whoami = (node: KeygateNode, token: string) => call(`${node.url}/v1/whoami`, { token });
/** Only what a refusal or an acceptance is, for exact comparisons. */
const outcome = ({ status, code }: Answer) => (code ? { status, code } : { status });

function multiNode(database: TestDatabase, redis: TestRedis): void {
  describe(NAME, () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-multi-node-'));
    const environment: NodeEnvironment = {
      KEYGATE_DATABASE: database.url,
      KEYGATE_SECRET_FILE: join(dir, 'secret'),
      KEYGATE_REDIS_URL: redis.url,
      KEYGATE_REDIS_PREFIX: redis.newPrefix(),
      KEYGATE_AUDIENCES: AUD,
      KEYGATE_MAX_CONNECTIONS_PER_ADDRESS: '0',
      KEYGATE_TRUST_PROXY: '127.0.0.1',
      KEYGATE_LOG_LEVEL: 'warn',
    };
    const nodes: KeygateNode[] = [];
    let a: KeygateNode;
    let b: KeygateNode;
    let c: KeygateNode;
    let orgId = '';
    const admin = { email: 'ops@example.com', password: randomBytes(18).toString('base64url') };

    const passHash = (password: string) => createHash('sha256').update(password).digest('hex');
    const login = (node: KeygateNode) =>
      call(`${node.url}/auth/login`, {
        method: 'POST',
        body: JSON.stringify({ user: admin.email, pass_hash: passHash(admin.password) }),
      });
    async function session(node: KeygateNode): Promise<string> {
      const answer = await login(node);
      assert.equal(answer.status, 202, JSON.stringify(answer));
      const { token } = answer.results as { token: { HY_APP_AUTH_v1: string } };
      return token.HY_APP_AUTH_v1;
    }
    let adminSession = '';

    /** An organization key registered through `node`'s HTTP API by the admin's session. */
    async function registerKey(node: KeygateNode): Promise<{ pair: TestPair; kid: string }> {
      const pair = ecPair();
      const answer = await call(`${node.url}/auth/signing-keys`, {
        method: 'POST',
        token: adminSession,
        body: JSON.stringify({ public_key: pair.publicPem }),
      });
      assert.equal(answer.status, 201, JSON.stringify(answer));
      return { pair, kid: answer.results?.key_id as string };
    }
    function sign({ pair, kid }: { pair: TestPair; kid: string }, claims: Record<string, unknown> = {}) {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(
        { alg: 'ES256', typ: 'JWT' },
        { aud: AUD, exp: now + 300, iat: now, iss: orgId, jti: randomUUID(), sub: 'alice', kid, ...claims },
        pair.privateKey,
      );
    }

    /**
     * Sends `token` to `node` until it is refused, and returns the refusal and how long after
     * `since` it came; every answer before it must be an acceptance.
     */
    async function refusedAfter(node: KeygateNode, token: string, since: number) {
      for (;;) {
        const answer = await whoami(node, token);
        const ms = performance.now() - since;
        if (answer.status !== 200 || ms > 5 * WITHIN_MS) return { refusal: outcome(answer), ms };
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }

    before(async () => {
      writeFileSync(environment.KEYGATE_SECRET_FILE, randomBytes(32), { mode: 0o600 });
      // All at once on an empty database, as a deployment's nodes come up: they migrate it once.
      const started = await Promise.allSettled(
        ['A', 'B', 'C'].map((name) => KeygateNode.start(name, environment)),
      );
      // Those that did start are stopped by after(), even when another did not.
      for (const node of started) if (node.status === 'fulfilled') nodes.push(node.value);
      for (const node of started) if (node.status === 'rejected') throw node.reason;
      [a, b, c] = nodes as [KeygateNode, KeygateNode, KeygateNode];
      orgId = (await keygateCli(environment, ['org', 'create', '--name', 'Multi-node Org'])).org_id as string;
      await keygateCli(
        environment,
        ['user', 'create', '--org', orgId, '--email', admin.email, '--role', 'admin', '--password-stdin'],
        admin.password,
      );
      adminSession = await session(a);
    });

    after(async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      await database.drop();
      const keys = await redis.drop();
      rmSync(dir, { recursive: true, force: true });
      assert.ok(keys > 0, 'the nodes wrote under the test prefix, and those keys are deleted');
    });

    test('every node is ready on PostgreSQL and Redis', async () => {
      for (const node of nodes) {
        assert.deepEqual(await call(`${node.url}/readyz`), {
          status: 200,
          results: { ok: true, store: 'postgres', redis: 'connected' },
        });
      }
    });

    test('a key registered through node A signs a token node B accepts on its very next request', async () => {
      for (let round = 0; round < 5; round++) {
        const key = await registerKey(a);
        const answer = await whoami(b, sign(key));
        assert.equal(answer.status, 200, `round ${round}: ${JSON.stringify(answer)}`);
        assert.deepEqual([answer.results?.kid, answer.results?.org_id], [key.kid, orgId]);
      }
    });

    test(`a key revoked on node C is refused on node A with key_revoked within ${WITHIN_MS} ms`, async (t) => {
      const delays: number[] = [];
      for (let round = 0; round < 3; round++) {
        const key = await registerKey(a);
        const token = sign(key);
        // Accepted first, so node A holds the key and the verified token in its caches.
        assert.deepEqual(outcome(await whoami(a, token)), { status: 200 });
        const revoked = await call(`${c.url}/auth/signing-keys/${key.kid}`, {
          method: 'DELETE',
          token: adminSession,
        });
        assert.equal(revoked.status, 200, JSON.stringify(revoked));
        const { refusal, ms } = await refusedAfter(a, token, performance.now());
        assert.deepEqual(refusal, { status: 401, code: 'key_revoked' });
        assert.ok(ms <= WITHIN_MS, `round ${round}: refused ${ms.toFixed(0)} ms after the revocation`);
        delays.push(ms);
      }
      t.diagnostic(`revocation on C refused on A after ${delays.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    });

    test('one (iss, jti) in two different tokens sent to two nodes at once: exactly one accepted, the other jti_reused', async () => {
      const key = await registerKey(a);
      for (const node of nodes) assert.equal((await whoami(node, sign(key))).status, 200, 'warm');
      const pairs = [
        [a, b],
        [b, c],
        [c, a],
      ] as const;
      const rounds = 60;
      const winners = { first: 0, second: 0 };
      for (let round = 0; round < rounds; round++) {
        const [first, second] = pairs[round % pairs.length] as (typeof pairs)[number];
        const jti = randomUUID();
        const tokens = [sign(key, { jti, sub: 'alice' }), sign(key, { jti, sub: 'bob' })] as const;
        const answers = (await Promise.all([whoami(first, tokens[0]), whoami(second, tokens[1])])).map(
          outcome,
        );
        const accepted = answers.findIndex((answer) => answer.status === 200);
        assert.deepEqual(
          accepted === 0 ? answers : [...answers].reverse(),
          [{ status: 200 }, { status: 401, code: 'jti_reused' }],
          `round ${round} (${first.name}, ${second.name}): ${JSON.stringify(answers)}`,
        );
        winners[accepted === 0 ? 'first' : 'second']++;
        const third = nodes.find((node) => node !== first && node !== second) as KeygateNode;
        assert.deepEqual(outcome(await whoami(third, tokens[1 - accepted] as string)), {
          status: 401,
          code: 'jti_reused',
        });
      }
      assert.equal(winners.first + winners.second, rounds);
    });

    test(`a session logged in on A and logged out on B is refused on A within ${WITHIN_MS} ms`, async (t) => {
      const delays: number[] = [];
      for (let round = 0; round < 3; round++) {
        const token = await session(a);
        const me = await whoami(a, token);
        assert.deepEqual([me.status, me.results?.method], [200, 'session']);
        const out = await call(`${b.url}/auth/logout`, { method: 'POST', token });
        assert.deepEqual(out, { status: 200, results: { logged_out: true } });
        const { refusal, ms } = await refusedAfter(a, token, performance.now());
        assert.deepEqual(refusal, { status: 401, code: 'session_revoked' });
        assert.ok(ms <= WITHIN_MS, `round ${round}: refused ${ms.toFixed(0)} ms after the logout`);
        delays.push(ms);
      }
      t.diagnostic(`logout on B refused on A after ${delays.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    });

    test('node B killed with SIGKILL under load: A and C keep serving, and a client that retries elsewhere sees no error', async (t) => {
      const key = await registerKey(a);
      const served = new Map(nodes.map((node) => [node.name, { before: 0, after: 0 }]));
      const failures: string[] = [];
      const retriedOn: string[] = [];
      /** Requests sent to B before the SIGKILL that got no answer: cut in flight, then retried. */
      let cut = 0;
      let killed = false;
      let stop = false;

      /** A client that tries the nodes in turn from `start`, moving on only when no answer came. */
      async function client(start: number): Promise<void> {
        for (let i = start; !stop; i++) {
          const token = sign(key);
          let answered = false;
          for (let attempt = 0; attempt < nodes.length && !answered; attempt++) {
            const node = nodes[(i + attempt) % nodes.length] as KeygateNode;
            const phase = killed ? 'after' : 'before';
            try {
              const answer = await whoami(node, token);
              answered = true;
              if (answer.status === 200)
                (served.get(node.name) as { before: number; after: number })[phase]++;
              else failures.push(`${node.name}: ${JSON.stringify(outcome(answer))}`);
            } catch {
              retriedOn.push(node.name);
              if (phase === 'before') cut++;
            }
          }
          if (!answered) failures.push('no node answered');
        }
      }

      /** Waits, under load, until `reached` holds; fails if it takes over 15 s. */
      async function until(what: string, reached: () => boolean): Promise<void> {
        for (let i = 0; !reached(); i++) {
          if (i >= 1500) {
            stop = true;
            assert.fail(`${what} within 15 s: ${JSON.stringify([...served])}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      const SERVED = 20;
      const clients = Array.from({ length: 6 }, (_, i) => client(i));
      await until('every node serves', () => [...served.values()].every((n) => n.before >= SERVED));
      // Set first: a request sent before the signal and never answered was cut in flight.
      killed = true;
      await b.kill9();
      await until(
        'A and C serve on after the kill, and requests meet the dead node',
        () =>
          retriedOn.length > 0 &&
          [a, c].every((node) => (served.get(node.name) as { after: number }).after >= SERVED),
      );
      stop = true;
      await Promise.all(clients);

      t.diagnostic(
        `answered per node (before kill / after): ${[...served].map(([name, n]) => `${name} ${n.before}/${n.after}`).join(', ')}; ${retriedOn.length} requests retried on another node, ${cut} of them cut in flight`,
      );
      assert.deepEqual(failures, [], 'every request answered 200, after a retry at most');
      assert.ok(retriedOn.length > 0, 'requests met the dead node and were retried');
      assert.deepEqual(new Set(retriedOn), new Set(['B']), 'only the killed node ever failed to answer');
      for (const node of [a, c]) {
        const count = served.get(node.name) as { before: number; after: number };
        assert.ok(count.before > 0 && count.after > 0, `${node.name} served before and after the kill`);
        assert.equal((await call(`${node.url}/readyz`)).status, 200, `${node.name} still ready`);
      }
    });
  });
}
