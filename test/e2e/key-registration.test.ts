import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AUD, ecPair, signJwt, type TestPair } from '../helpers.ts';
import { freePort, waitForHealth } from './server-process.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Outcome {
  status: number;
  code?: string;
}

/** GET /v1/whoami on a fresh connection, so that with several workers consecutive calls reach each of them. */
function whoami(url: string, token: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const call = request(`${url}/v1/whoami`, { agent: false, headers: { authorization: `Bearer ${token}` } });
    call.on('error', reject);
    call.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => {
        const code = (JSON.parse(body) as { error?: { code: string } }).error?.code;
        resolve({ status: response.statusCode ?? 0, ...(code && { code }) });
      });
    });
    call.end();
  });
}

async function whoamiEach(url: string, token: string, times: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < times; i++) outcomes.push(await whoami(url, token));
  return outcomes;
}

function sign(pair: TestPair, orgId: string, kid: string, sub = 'loop'): string {
  const now = Math.floor(Date.now() / 1000);
  return signJwt(
    { alg: 'ES256', typ: 'JWT' },
    { aud: AUD, exp: now + 300, iat: now, iss: orgId, jti: randomUUID(), sub, kid },
    pair.privateKey,
  );
}

/** A running `keygate serve` with its own database file, and the CLI pointed at that same file. */
class Server {
  readonly dir = mkdtempSync(join(tmpdir(), 'keygate-register-'));
  readonly env = {
    ...process.env,
    KEYGATE_DATABASE: join(this.dir, 'keygate.db'),
    KEYGATE_AUDIENCES: AUD,
    KEYGATE_LOG_LEVEL: 'warn',
    // One user registers a key per round, all from this one address.
    KEYGATE_MAX_KEYS_PER_USER: '100',
    KEYGATE_LOGIN_RATE_LIMIT: '1000',
    // Each CLI run would otherwise strip and compile the same sources again: half its CPU.
    NODE_COMPILE_CACHE: join(this.dir, 'compile-cache'),
  };
  url = '';
  stderr = '';
  private process: ChildProcess | undefined;

  async start(workers: number): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const args = [MAIN, 'serve', '--port', String(port), '--workers', String(workers)];
    const server = spawn(process.execPath, args, { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.process = server;
    server.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    try {
      await waitForHealth(this.url, server);
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${this.stderr}`);
    }
  }

  /** Runs the CLI as its own process, as an operator would, and parses its --json output. */
  cli(args: string[], input?: string): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        process.execPath,
        [MAIN, ...args, '--json'],
        { env: this.env },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`keygate ${args.join(' ')}: ${stderr}${stdout}`));
          else resolve(JSON.parse(stdout));
        },
      );
      child.stdin?.end(input ?? '');
    });
  }

  /** `keygate key add` with a new P-256 key; resolves once that process has exited. */
  async addKey(orgId: string): Promise<{ pair: TestPair; kid: string }> {
    const pair = ecPair();
    const file = join(this.dir, `${randomUUID()}.pub`);
    writeFileSync(file, pair.publicPem);
    const added = await this.cli(['key', 'add', '--org', orgId, '--public-key', file]);
    return { pair, kid: added.key_id as string };
  }

  async stop(): Promise<void> {
    const server = this.process;
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// With two workers each connection goes to the next worker in turn: two calls reach both.
for (const workers of [1, 2]) {
  const rounds = 50;
  describe(`keygate serve --workers ${workers}: a key registered by the CLI works on the next request`, () => {
    const server = new Server();
    let orgId = '';

    before(async () => {
      await server.start(workers);
      orgId = (await server.cli(['org', 'create', '--name', 'Register Org'])).org_id as string;
    });
    after(() => server.stop());

    test(`${rounds} times key add, then at once a token signed with that key: every call accepted`, async () => {
      const outcomes: Outcome[] = [];
      for (let round = 0; round < rounds; round++) {
        const { pair, kid } = await server.addKey(orgId);
        outcomes.push(...(await whoamiEach(server.url, sign(pair, orgId, kid), workers)));
      }
      const refused = outcomes.filter((outcome) => outcome.status !== 200);
      assert.deepEqual(refused, [], `${refused.length} of ${outcomes.length} refused`);
      assert.equal(outcomes.length, rounds * workers);
    });

    test('key disable is refused once the poll sees it; key enable is accepted on the very next call', async () => {
      const { pair, kid } = await server.addKey(orgId);
      const token = sign(pair, orgId, kid);
      assert.deepEqual(await whoamiEach(server.url, token, workers), Array(workers).fill({ status: 200 }));
      await server.cli(['key', 'disable', kid]);
      const disabled = { status: 401, code: 'key_disabled' };
      let outcomes = await whoamiEach(server.url, token, workers);
      for (let i = 0; i < 100 && outcomes.some((outcome) => outcome.status === 200); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        outcomes = await whoamiEach(server.url, token, workers);
      }
      assert.deepEqual(outcomes, Array(workers).fill(disabled));
      await server.cli(['key', 'enable', kid]);
      assert.deepEqual(await whoamiEach(server.url, token, workers), Array(workers).fill({ status: 200 }));
      assert.deepEqual(
        await whoamiEach(server.url, sign(pair, orgId, kid), workers),
        Array(workers).fill({ status: 200 }),
      );
    });
  });
}

describe('keygate serve --workers 2: a key a user registers through the API', () => {
  const server = new Server();
  let orgId = '';
  let user = { id: '', email: 'maya@example.com', session: '' };

  before(async () => {
    await server.start(2);
    orgId = (await server.cli(['org', 'create', '--name', 'Self-service Org'])).org_id as string;
    const password = 'a long and private passphrase';
    const created = await server.cli(
      ['user', 'create', '--org', orgId, '--email', user.email, '--password-stdin'],
      password,
    );
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        user: user.email,
        pass_hash: createHash('sha256').update(password).digest('hex'),
      }),
    });
    const session = ((await login.json()) as { results: { token: { HY_APP_AUTH_v1: string } } }).results
      .token;
    user = { ...user, id: created.id as string, session: session.HY_APP_AUTH_v1 };
  });
  after(() => server.stop());

  async function registerOwnKey(): Promise<{ pair: TestPair; kid: string }> {
    const pair = ecPair();
    const response = await fetch(`${server.url}/auth/signing-keys`, {
      method: 'POST',
      headers: { authorization: `bearer ${user.session}`, 'content-type': 'application/json' },
      body: JSON.stringify({ public_key: pair.publicPem }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    return { pair, kid: ((await response.json()) as { results: { key_id: string } }).results.key_id };
  }

  test('works on the next request on every worker, and only for its owner', async () => {
    const outcomes: Outcome[] = [];
    for (let round = 0; round < 20; round++) {
      const { pair, kid } = await registerOwnKey();
      outcomes.push(...(await whoamiEach(server.url, sign(pair, orgId, kid, user.id), 2)));
    }
    assert.deepEqual(
      outcomes.filter((outcome) => outcome.status !== 200),
      [],
    );
    const { pair, kid } = await registerOwnKey();
    assert.deepEqual(await whoamiEach(server.url, sign(pair, orgId, kid, 'someone-else'), 2), [
      { status: 401, code: 'sub_not_permitted' },
      { status: 401, code: 'sub_not_permitted' },
    ]);
  });

  test('user disable in another process stops the key on the very next request of every worker', async () => {
    const { pair, kid } = await registerOwnKey();
    const token = sign(pair, orgId, kid, user.id);
    assert.deepEqual(await whoamiEach(server.url, token, 2), [{ status: 200 }, { status: 200 }]);
    await server.cli(['user', 'disable', user.email]);
    const disabled = { status: 401, code: 'key_disabled' };
    assert.deepEqual(await whoamiEach(server.url, token, 2), [disabled, disabled]);
  });
});
