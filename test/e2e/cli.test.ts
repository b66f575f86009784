import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, waitForHealth } from './server-process.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keygate-cli-'));
const env = { ...process.env, KEYGATE_DATABASE: join(dir, 'keygate.db'), KEYGATE_LOG_LEVEL: 'warn' };

function keygate(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [MAIN, ...args], { env, input: input ?? '', encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(args: string[], input?: string) {
  const result = keygate([...args, '--json'], input);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout);
}

/** Retries `attempt` until `done` holds (a change made by the CLI reaches the server within its 250 ms poll). */
async function until<T>(attempt: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await attempt();
  for (let i = 0; i < 40 && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await attempt();
  }
  return value;
}

describe('keygate CLI end to end', () => {
  let server: ChildProcess;
  let url: string;
  let banner = '';

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server.stderr?.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
    });
    await waitForHealth(url, server);
  });
  after(() => {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  test('the server prints the way from a public key to an accepted token', () => {
    assert.match(banner, /listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(banner, /dashboard: http:\/\/127\.0\.0\.1:\d+\/ /);
    for (const step of ['org create', 'keygen --out my.key', 'key add', 'token --key my.key', 'hello --url'])
      assert.ok(banner.includes(step), step);
    // A deprecation or runtime warning on start would greet every operator.
    assert.doesNotMatch(banner, /Warning|Deprecation/);
  });

  test('keygen, org create, key add, token, hello and whoami, for RSA and P-256', async () => {
    const org = json(['org', 'create', '--name', 'CLI Org']);
    for (const [type, alg] of [
      ['rsa', 'RS256'],
      ['ec', 'ES256'],
    ]) {
      const keyPath = join(dir, `${type}.key`);
      json([
        'keygen',
        '--type',
        type as string,
        '--out',
        keyPath,
        ...(type === 'rsa' ? ['--bits', '2048'] : []),
      ]);
      assert.equal(statSync(keyPath).mode & 0o777, 0o600);
      assert.match(
        readFileSync(keyPath, 'utf8'),
        type === 'rsa' ? /BEGIN RSA PRIVATE KEY/ : /BEGIN EC PRIVATE KEY/,
      );
      const key = json([
        'key',
        'add',
        '--org',
        org.org_id,
        '--public-key',
        `${keyPath}.pub`,
        '--label',
        type as string,
      ]);
      assert.equal(key.org_id, org.org_id);
      assert.deepEqual(key.roles, ['user', 'device', 'service']);
      const { token } = json([
        'token',
        '--key',
        keyPath,
        '--org',
        org.org_id,
        '--kid',
        key.key_id,
        '--sub',
        'alice',
        '--role',
        'device',
      ]);
      assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg, alg);
      // A key added by the CLI reaches the running server within its key poll.
      const hello = await until(
        async () => keygate(['hello', '--url', url, '--json'], token),
        (result) => result.code === 0,
      );
      assert.equal(hello.code, 0, hello.stdout);
      assert.equal(JSON.parse(hello.stdout).principal.role, 'device');
      const whoami = await fetch(`${url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(whoami.status, 200);
      assert.equal(((await whoami.json()) as { results: { kid: string } }).results.kid, key.key_id);
    }
    const listed = json(['key', 'list', '--org', org.org_id]);
    // Listed by creation time, to the second; two keys made within one second come in id order.
    assert.deepEqual(listed.map((k: { label: string; status: string }) => [k.label, k.status]).sort(), [
      ['ec', 'active'],
      ['rsa', 'active'],
    ]);
  });

  test('revoking a key through the CLI stops its tokens on the running server', async () => {
    const org = json(['org', 'create', '--name', 'Revoke Org']);
    const keyPath = join(dir, 'revoke.key');
    json(['keygen', '--type', 'ec', '--out', keyPath]);
    const key = json(['key', 'add', '--org', org.org_id, '--public-key', `${keyPath}.pub`]);
    const { token } = json([
      'token',
      '--key',
      keyPath,
      '--org',
      org.org_id,
      '--kid',
      key.key_id,
      '--sub',
      'bob',
    ]);
    const whoami = () => fetch(`${url}/v1/whoami`, { headers: { authorization: token } });
    assert.equal((await until(whoami, (r) => r.status === 200)).status, 200);
    assert.equal(json(['key', 'revoke', key.key_id]).status, 'revoked');
    const response = await until(whoami, (r) => r.status !== 200);
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'key_revoked');
    const again = keygate(['key', 'enable', key.key_id]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /revocation is final/);
  });

  test('exit codes: 2 for usage and input errors, 3 for a rejected token, 4 when the server cannot be reached', async () => {
    assert.equal(keygate(['token']).code, 2);
    assert.equal(keygate(['no-such-command']).code, 2);
    const org = json(['org', 'create', '--name', 'Exit Org']);
    const privateKey = keygate(['key', 'add', '--org', org.org_id, '--public-key', join(dir, 'rsa.key')]);
    assert.equal(privateKey.code, 2);
    assert.match(privateKey.stderr, /private key/);
    assert.match(privateKey.stderr, /no longer secret/);
    const missing = keygate(['key', 'add', '--org', org.org_id, '--public-key', join(dir, 'nope.pub')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot read/);
    const badOrg = keygate(['key', 'list', '--org', 'not-an-org', '--json']);
    assert.equal(badOrg.code, 2);
    assert.deepEqual(
      { ...JSON.parse(badOrg.stdout).error, hint: undefined },
      {
        code: 'not_found',
        field: 'org',
        message: 'No organization has the id "not-an-org".',
        hint: undefined,
      },
    );
    const rejected = keygate(['hello', '--url', url, '--json'], 'not.a.token');
    assert.equal(rejected.code, 3);
    assert.equal(JSON.parse(rejected.stdout).code, 'token_malformed');
    const unreachable = keygate(['hello', '--url', `http://127.0.0.1:${await freePort()}`], 'x.y.z');
    assert.equal(unreachable.code, 4);
    assert.match(unreachable.stderr, /Cannot reach/);
  });

  test('user create and login take the password from stdin; login prints a session token', async () => {
    const org = json(['org', 'create', '--name', 'Session Org']);
    const created = json(
      [
        'user',
        'create',
        '--org',
        org.org_id,
        '--email',
        'Ali@Example.com',
        '--screen-name',
        'Ali',
        '--password-stdin',
      ],
      'pa55 word for Ali',
    );
    assert.equal(created.email, 'ali@example.com');
    const login = keygate(
      ['login', '--url', url, '--user', 'ali@example.com', '--password-stdin'],
      'pa55 word for Ali',
    );
    assert.equal(login.code, 0, login.stderr);
    const token = login.stdout.trim();
    const whoami = await fetch(`${url}/v1/whoami`, { headers: { authorization: token } });
    assert.equal(((await whoami.json()) as { results: { method: string } }).results.method, 'session');
    const wrong = keygate(['login', '--url', url, '--user', 'ali@example.com', '--password-stdin'], 'wrong');
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /user name or password is wrong/);
    assert.equal(json(['user', 'disable', 'ali@example.com']).status, 'disabled');
    const after = await fetch(`${url}/v1/whoami`, { headers: { authorization: token } });
    assert.equal(after.status, 401);
    assert.equal(((await after.json()) as { error: { code: string } }).error.code, 'session_revoked');
    const listed = json(['user', 'list', '--org', org.org_id]);
    assert.deepEqual(
      listed.map((u: { email: string; status: string }) => [u.email, u.status]),
      [['ali@example.com', 'disabled']],
    );
    const noPassword = keygate(
      ['user', 'create', '--org', org.org_id, '--email', 'b@example.com', '--password-stdin'],
      '',
    );
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.stderr, /No password on standard input/);
  });

  test('user list shows the login throttle and user unlock clears it', async () => {
    const org = json(['org', 'create', '--name', 'Throttle Org']);
    json(
      ['user', 'create', '--org', org.org_id, '--email', 'tess@example.com', '--password-stdin'],
      'right passphrase for tess',
    );
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const attempt = (password: string) =>
      fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'tess@example.com', pass_hash: sha(password) }),
      });
    for (let i = 0; i < 5; i++) assert.equal((await attempt(`wrong ${i}`)).status, 401);
    const waiting = await attempt('right passphrase for tess');
    assert.equal(waiting.status, 401);
    // 30 s from the fifth failure, on the wall clock: a second may tick between the two requests.
    assert.match(waiting.headers.get('retry-after') ?? '', /^(29|30)$/);
    const [listed] = json(['user', 'list', '--org', org.org_id]);
    assert.equal(listed.email, 'tess@example.com');
    assert.equal(listed.login.failures, 5);
    assert.equal(listed.login.throttled_addresses, 1);
    assert.equal(listed.login.account_throttled_until, null);
    assert.match(listed.login.throttled_until, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const table = keygate(['user', 'list', '--org', org.org_id]);
    assert.match(table.stdout, /LOGIN/);
    assert.match(table.stdout, /throttled until \S+Z \(1 address\)/);
    const unlocked = keygate(['user', 'unlock', 'tess@example.com']);
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.match(
      unlocked.stdout,
      /User tess@example.com unlocked: cleared throttled until \S+Z \(1 address\)\./,
    );
    assert.deepEqual(json(['user', 'list', '--org', org.org_id])[0].login, {
      failures: 0,
      throttled_addresses: 0,
      account_throttled_until: null,
      throttled_until: null,
    });
    assert.match(
      keygate(['user', 'list', '--org', org.org_id]).stdout,
      /tess@example\.com +user +active +ok /,
    );
    assert.equal(
      (await attempt('right passphrase for tess')).status,
      202,
      'the running server sees the unlock at once',
    );
    assert.match(keygate(['user', 'unlock', 'tess@example.com']).stdout, /had no failed logins to clear/);
    const unknown = keygate(['user', 'unlock', 'nobody@example.com']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /No user has the email "nobody@example.com"/);
  });

  test('keygen refuses to overwrite a key', () => {
    const keyPath = join(dir, 'once.key');
    json(['keygen', '--type', 'ec', '--out', keyPath]);
    const again = keygate(['keygen', '--type', 'ec', '--out', keyPath]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists already/);
  });
});

describe('keygate serve --workers 2 on a new database', () => {
  test('both workers start on one file, migrate it once and share one session key', async () => {
    const workersDir = mkdtempSync(join(tmpdir(), 'keygate-workers-'));
    const database = join(workersDir, 'keygate.db');
    const port = await freePort();
    const server = spawn(process.execPath, [MAIN, 'serve', '--workers', '2', '--port', String(port)], {
      env: { ...env, KEYGATE_DATABASE: database },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      await waitForHealth(`http://127.0.0.1:${port}`, server);
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`).then((r) => r.json()),
        ),
      );
      const kids = new Set(
        answers.map((a) => (a as { keys: { kid: string }[] }).keys.map((k) => k.kid).join(',')),
      );
      assert.equal(kids.size, 1, 'every worker serves the same single key');
      assert.doesNotMatch(stderr, /error|stopped/i);
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      rmSync(workersDir, { recursive: true, force: true });
    }
  });
});
