import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, waitForHealth } from './server-process.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keygate-sign-'));
const env = { ...process.env, KEYGATE_DATABASE: join(dir, 'keygate.db'), KEYGATE_LOG_LEVEL: 'warn' };
// Not ASCII, and ending in a newline: the CLI signs the bytes piped in, exactly.
const MESSAGE = '{"op":"follow","target":"bøb"}\n';

function keygate(args: string[], input = '') {
  const result = spawnSync(process.execPath, [MAIN, ...args], { env, input, encoding: 'utf8', cwd: dir });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(args: string[], input?: string) {
  const result = keygate([...args, '--json'], input);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout);
}

describe('keygate sign, with a key made by spec 002 commands, verified by a running server', () => {
  let server: ChildProcess;
  let url: string;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // Spec 002's commands, verbatim.
    execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', 'private.pem'], {
      cwd: dir,
      stdio: 'ignore',
    });
    execFileSync('openssl', ['ec', '-in', 'private.pem', '-pubout', '-out', 'public.pem'], {
      cwd: dir,
      stdio: 'ignore',
    });
    server = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], { env, stdio: 'ignore' });
    await waitForHealth(url, server);
  });
  after(() => {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  async function verify(body: Record<string, string>) {
    const response = await fetch(`${url}/v1/signatures/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { results: Record<string, unknown> }).results;
  }

  test('attached and detached messages verify; a changed message does not', async () => {
    const org = json(['org', 'create', '--name', 'Signing Org']);
    const key = json(['key', 'add', '--org', org.org_id, '--public-key', 'public.pem']);
    const accepted = {
      valid: true,
      org_id: org.org_id,
      key_id: key.key_id,
      owner: { type: 'org', id: org.org_id },
      alg: 'ES256',
      payload: MESSAGE,
    };

    const attached = keygate(['sign', '--key', 'private.pem', '--kid', key.key_id], MESSAGE);
    assert.equal(attached.code, 0, attached.stderr);
    const jws = attached.stdout.trimEnd();
    assert.match(jws, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(JSON.parse(Buffer.from(jws.split('.')[0] as string, 'base64url').toString()), {
      alg: 'ES256',
      kid: key.key_id,
      typ: 'JOSE',
    });
    assert.deepEqual(await verify({ jws }), accepted);

    const { jws: detached } = json(
      ['sign', '--key', 'private.pem', '--kid', key.key_id, '--detached'],
      MESSAGE,
    );
    assert.match(detached, /^[\w-]+\.\.[\w-]+$/);
    assert.deepEqual(await verify({ jws: detached, payload: MESSAGE }), accepted);
    assert.deepEqual(await verify({ jws: detached, payload: MESSAGE.trimEnd() }), {
      valid: false,
      code: 'signature_invalid',
      message: 'The signature does not verify with the registered public key.',
      hint: 'Sign with the private key whose public half was registered under this kid, and send the token unchanged.',
      org_id: null,
      key_id: key.key_id,
      owner: null,
      alg: null,
      payload: null,
    });
  });

  test('sign refuses what the server would refuse, before signing, with exit code 2', () => {
    const cases: [string[], string, string][] = [
      [['--alg', 'RS256'], MESSAGE, 'error: --alg RS256 needs an RSA key; this key is P-256 (use ES256).\n'],
      [['--alg', 'HS256'], MESSAGE, 'error: --alg HS256 is not RS256, RS384 or ES256.\n'],
      [[], '', 'error: No message on standard input.\n'],
    ];
    for (const [extra, input, first] of cases) {
      const result = keygate(['sign', '--key', 'private.pem', '--kid', 'k', ...extra], input);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr.split('hint:')[0], first);
    }
    const binary = spawnSync(process.execPath, [MAIN, 'sign', '--key', 'private.pem', '--kid', 'k'], {
      env,
      cwd: dir,
      input: Buffer.from([0x66, 0xff]),
      encoding: 'utf8',
    });
    assert.equal(binary.status, 2);
    assert.match(binary.stderr, /^error: The message is not UTF-8 text; Keygate verifies text messages\.\n/);
    const publicKey = keygate(['sign', '--key', 'public.pem', '--kid', 'k'], MESSAGE);
    assert.equal(publicKey.code, 2);
    assert.match(publicKey.stderr, /^error: public\.pem is not a private key in PEM form\.\n/);
  });
});
