import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { signToken } from '../../src/sdk/sign-token.ts';
import { freePort, waitForHealth } from '../e2e/server-process.ts';

// The floor servers of `npm run bench -- http` (bench/reference/signature-only.ts): the rows
// that say a target is out of reach rest on them doing what their labels say.

const SERVER = new URL('../../bench/reference/signature-only.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keygate-floor-test-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill();
  rmSync(dir, { recursive: true, force: true });
});

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = '5e0c2a1d-8f3b-4c6e-9a7d-2b1f0e3c4d5a';
const ORG = '0b7d9e21-3c4a-4f5b-8e6d-1a2b3c4d5e6f';
const keysFile = join(dir, 'keys.json');
writeFileSync(
  keysFile,
  JSON.stringify([{ kid: KID, org: ORG, spki: publicKey.export({ type: 'spki', format: 'pem' }) }]),
);
const token = () => signToken({ privateKey, orgId: ORG, kid: KID, sub: 'floor', aud: 'api.example.com' });

async function start(ledgerDb?: string, mode?: string): Promise<string> {
  const port = await freePort();
  const args = [SERVER, String(port), keysFile, ...(ledgerDb === undefined ? [] : [ledgerDb])];
  if (mode) args.push(mode);
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, child);
  return url;
}

async function status(url: string, bearer: string): Promise<number> {
  return (await answer(url, bearer)).status;
}

async function answer(
  url: string,
  bearer: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/v1/whoami`, { headers: { authorization: `Bearer ${bearer}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('the signature-only server accepts a valid token every time and refuses a bad signature', async () => {
  const url = await start();
  const once = token();
  assert.equal(await status(url, once), 200);
  assert.equal(await status(url, once), 200);
  const other = token();
  const forged = `${once.slice(0, once.lastIndexOf('.'))}${other.slice(other.lastIndexOf('.'))}`;
  assert.equal(await status(url, forged), 401);
});

test("with a ledger, each token's jti is bound in Keygate's replay ledger: a token sent again is refused", async () => {
  const ledgerDb = join(dir, 'ledger.db');
  const url = await start(ledgerDb);
  const first = token();
  assert.equal(await status(url, first), 200);
  assert.equal(await status(url, first), 401);
  // Sent at once, tokens are bound in batches of the turns they arrive in, each with its own answer.
  const batch = Array.from({ length: 20 }, token);
  const answers = await Promise.all([...batch, batch[0] as string].map((each) => status(url, each)));
  assert.equal(answers.filter((answer) => answer === 200).length, 20);
  assert.equal(answers.filter((answer) => answer === 401).length, 1);
  assert.ok(existsSync(ledgerDb), 'the ledger is the database named on the command line');
});

test("the spec floor checks every claim, binds each jti and answers in the spec's envelope", async () => {
  const url = await start(join(dir, 'spec.db'), 'checks');
  const sign = (extra: { aud?: string; ttlSeconds?: number; role?: string } = {}) =>
    signToken({ privateKey, orgId: ORG, kid: KID, sub: 'floor', aud: 'api.happypathology.com', ...extra });
  const first = sign({ role: 'service' });
  const accepted = await answer(url, first);
  assert.equal(accepted.status, 200);
  const { results, debug_info } = accepted.body as {
    results: Record<string, string>;
    debug_info: { delta: string; version: string };
  };
  assert.deepEqual(
    { ...results, expires_at: undefined },
    { org_id: ORG, sub: 'floor', role: 'service', kid: KID, method: 'key', expires_at: undefined },
  );
  assert.match(results.expires_at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(debug_info.delta, /^\d+\.\d{6}ms$/);
  assert.match(debug_info.version, /^keygate\./);
  const code = async (bearer: string) => {
    const refused = await answer(url, bearer);
    assert.equal(refused.status, 401);
    // Keygate's own refusal: the check's reason with what to change.
    const { error } = refused.body as { error: { code: string; message: string; hint: string } };
    assert.ok(error.message.length > 0 && error.hint.length > 0, JSON.stringify(error));
    return error.code;
  };
  assert.equal(await code(first), 'jti_reused');
  // Claims the signature-only and ledger servers never read.
  assert.equal(await code(sign({ aud: 'api.example.com' })), 'aud_mismatch');
  assert.equal(await code(sign({ ttlSeconds: 7200 })), 'lifetime_too_long');
  assert.equal(await code(sign({ role: 'root' })), 'role_invalid');
  assert.equal(await code('not.a.token'), 'token_malformed');
  const stranger = randomUUID();
  assert.equal(
    await code(
      signToken({ privateKey, orgId: ORG, kid: stranger, sub: 'floor', aud: 'api.happypathology.com' }),
    ),
    'kid_unknown',
  );
});

test('the floor server refuses to start on a mode it does not know, rather than measuring another server', async () => {
  await assert.rejects(start(join(dir, 'typo.db'), 'chekcs'), /exited/);
});
