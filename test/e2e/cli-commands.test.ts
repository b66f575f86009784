import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isoTime } from '../../src/core/time.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { ecPair, NOW } from '../helpers.ts';

// src/cli/main.ts loads only the module of the command a run names; help still lists them all.

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keygate-cli-commands-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Prints, as the process exits, whether Fastify (the HTTP server) was ever loaded. */
const REPORT_FASTIFY = `data:text/javascript,${encodeURIComponent(
  'import { createRequire } from "node:module";' +
    'const cache = createRequire(process.cwd() + "/").cache;' +
    'process.on("exit", () => process.stderr.write("fastify loaded: " + Object.keys(cache).some((p) => p.includes("/fastify/")) + "\\n"));',
)}`;

function run(...args: string[]) {
  return spawnSync(process.execPath, ['--import', REPORT_FASTIFY, MAIN, ...args], {
    env: { ...process.env, KEYGATE_DATABASE: join(dir, 'k.db') },
    encoding: 'utf8',
  });
}

test('help lists every command, in order', () => {
  const help = run('--help');
  assert.equal(help.status, 0, help.stderr);
  const listed = help.stdout.slice(help.stdout.indexOf('Commands:'));
  const commands = [...listed.matchAll(/^ {2}([a-z-]+)/gm)].map((match) => match[1]);
  assert.deepEqual(commands, [
    'serve',
    'org',
    'key',
    'keygen',
    'token',
    'sign',
    'hello',
    'user',
    'login',
    'server-key',
    'audit',
    'doctor',
    'help',
  ]);
});

test('an admin command does not load the HTTP server', () => {
  const list = run('org', 'list', '--json');
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), []);
  assert.match(list.stderr, /fastify loaded: false/);
});

test('a mistyped command still gets the suggestion, from the whole list', () => {
  const typo = run('sevre');
  assert.notEqual(typo.status, 0);
  assert.match(typo.stderr, /unknown command 'sevre'\n\(Did you mean serve\?\)/);
});

test('key list shows each key’s counted uses, and flags a key that expires within the warning window', async () => {
  const json = (...args: string[]) => {
    const result = run(...args, '--json');
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout);
  };
  const org = json('org', 'create', '--name', 'Usage Org');
  const addKey = (label: string, days: number): string => {
    const path = join(dir, `${label}.pub`);
    writeFileSync(path, ecPair().publicPem);
    const expiresAt = new Date(Date.now() + days * 86400_000).toISOString();
    return json(
      'key',
      'add',
      '--org',
      org.org_id,
      '--public-key',
      path,
      '--label',
      label,
      '--expires-at',
      expiresAt,
    ).key_id;
  };
  const soon = addKey('soon', 5);
  const later = addKey('later', 60);
  // What a server's flush writes (Store.recordKeyUse), written here by the store itself.
  const store = new SqliteStore(join(dir, 'k.db'));
  await store.recordKeyUse({
    counts: [
      { kid: soon, outcome: 'accepted', count: 7 },
      { kid: soon, outcome: 'signature_invalid', count: 2 },
      { kid: soon, outcome: 'token_expired', count: 1 },
    ],
    lastUsed: new Map([[soon, NOW]]),
  });
  await store.close();

  const listed = json('key', 'list', '--org', org.org_id) as {
    key_id: string;
    expires_soon: boolean;
    expires_in_seconds: number;
    usage: unknown;
  }[];
  // Keys are listed by creation time, then id: two made within one second come in id order,
  // which is random, so each key is found by its id.
  const byId = new Map(listed.map((k) => [k.key_id, k]));
  assert.deepEqual(
    [soon, later].map((id) => [byId.get(id)?.expires_soon, byId.get(id)?.usage]),
    [
      [
        true,
        { accepted: 7, refused: { signature_invalid: 2, token_expired: 1 }, last_used_at: isoTime(NOW) },
      ],
      [false, { accepted: 0, refused: {}, last_used_at: null }],
    ],
  );
  assert.equal(listed.length, 2);
  const left = byId.get(soon)?.expires_in_seconds ?? 0;
  assert.ok(left > 5 * 86400 - 120 && left <= 5 * 86400, `${left} s left`);

  const text = run('key', 'list', '--org', org.org_id);
  assert.equal(text.status, 0, text.stderr);
  const rows = text.stdout
    .trim()
    .split('\n')
    .map((line) => line.split(/ {2,}/));
  assert.deepEqual(rows[0], [
    'KEY ID',
    'STATUS',
    'TYPE',
    'ROLES',
    'OWNER',
    'ACCEPTED',
    'REFUSED',
    'LAST USED',
    'EXPIRES',
    'LABEL',
  ]);
  assert.equal(rows.length, 3);
  const row = (id: string) => rows.find((r) => r[0] === id) ?? [];
  assert.deepEqual(row(soon).slice(5, 8), ['7', '3', isoTime(NOW)]);
  assert.match(row(soon)[8] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(soon\)$/);
  assert.deepEqual(row(later).slice(5, 8), ['0', '0', 'never']);
  assert.match(row(later)[8] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // KEYGATE_KEY_EXPIRY_WARNING_DAYS=0 flags nothing.
  const quiet = spawnSync(process.execPath, [MAIN, 'key', 'list', '--org', org.org_id, '--json'], {
    env: { ...process.env, KEYGATE_DATABASE: join(dir, 'k.db'), KEYGATE_KEY_EXPIRY_WARNING_DAYS: '0' },
    encoding: 'utf8',
  });
  assert.deepEqual(
    (JSON.parse(quiet.stdout) as { expires_soon: boolean }[]).map((k) => k.expires_soon),
    [false, false],
  );
});

test('token refuses an empty --org, --kid or --sub, and an --alg it or its key cannot sign with, naming the flag', () => {
  const keyPath = join(dir, 'token-input.key');
  writeFileSync(keyPath, ecPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
    mode: 0o600,
  });
  const token = (...args: string[]) =>
    run('token', '--key', keyPath, '--org', 'org-1', '--sub', 'alice', '--aud', 'api.example.com', ...args);
  assert.equal(token('--kid', 'key-1').status, 0, 'the same command with every value given signs');
  const emptyKid = token('--kid', '');
  assert.equal(emptyKid.status, 2);
  assert.equal(emptyKid.stdout, '', 'no token is printed');
  assert.match(
    emptyKid.stderr,
    /^error: --kid must be the Key ID the public key was registered under; it is empty\.\n/,
  );
  const blankSub = run(
    'token',
    '--key',
    keyPath,
    '--org',
    'org-1',
    '--kid',
    'key-1',
    '--sub',
    ' ',
    '--aud',
    'a',
  );
  assert.equal(blankSub.status, 2);
  assert.match(
    blankSub.stderr,
    /^error: --sub must be the user the token speaks for; it is " " \(blank\)\.\n/,
  );
  const emptyOrg = token('--kid', 'key-1', '--org', '');
  assert.equal(emptyOrg.status, 2);
  assert.match(emptyOrg.stderr, /^error: --org must be the Organization ID, sent as iss; it is empty\.\n/);
  const wrongAlg = token('--kid', 'key-1', '--alg', 'RS256');
  assert.equal(wrongAlg.status, 2);
  assert.match(wrongAlg.stderr, /^error: --alg RS256 needs an RSA key; this key is P-256 \(use ES256\)\.\n/);
  const unknownAlg = token('--kid', 'key-1', '--alg', 'HS256');
  assert.equal(unknownAlg.status, 2);
  assert.match(unknownAlg.stderr, /^error: --alg "HS256" is not RS256, RS384 or ES256\.\n/);
});

test('token refuses a lifetime the configured Keygate would refuse and a role no key has; by default it signs the longest allowed', () => {
  const keyPath = join(dir, 'token-lifetime.key');
  writeFileSync(keyPath, ecPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
    mode: 0o600,
  });
  const token = (env: Record<string, string>, ...args: string[]) =>
    spawnSync(
      process.execPath,
      [MAIN, 'token', '--key', keyPath, '--org', 'o', '--kid', 'k', '--sub', 's', '--aud', 'a', ...args],
      { env: { ...process.env, ...env }, encoding: 'utf8' },
    );
  const lifetime = (result: { stdout: string }) => {
    const claims = JSON.parse(Buffer.from(result.stdout.split('.')[1] as string, 'base64url').toString());
    return claims.exp - claims.iat;
  };
  assert.equal(lifetime(token({})), 3600);
  assert.equal(lifetime(token({ KEYGATE_MAX_TOKEN_LIFETIME_SECONDS: '600' })), 600);
  const tooLong = token({ KEYGATE_MAX_TOKEN_LIFETIME_SECONDS: '600' }, '--ttl', '601');
  assert.equal(tooLong.status, 2);
  assert.equal(tooLong.stdout, '');
  assert.match(
    tooLong.stderr,
    /^error: --ttl 601 is longer than the 600 s a token may live \(KEYGATE_MAX_TOKEN_LIFETIME_SECONDS\)\.\n/,
  );
  const role = token({}, '--role', 'boss');
  assert.equal(role.status, 2);
  assert.match(role.stderr, /^error: --role boss is not admin, user, device, service\./);
});

test('sign refuses an empty --kid, and hello and login a --url that is not http(s), before reading their input', () => {
  const keyPath = join(dir, 'sign-input.key');
  writeFileSync(keyPath, ecPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
    mode: 0o600,
  });
  const sign = spawnSync(process.execPath, [MAIN, 'sign', '--key', keyPath, '--kid', ''], {
    input: 'hello',
    encoding: 'utf8',
  });
  assert.equal(sign.status, 2);
  assert.equal(sign.stdout, '');
  assert.match(sign.stderr, /^error: kid: --kid is empty\./);
  for (const args of [
    ['hello', '--url', ''],
    ['login', '--url', 'ftp://example.com', '--user', 'ali@example.com'],
  ]) {
    // No input is given: a command that read it first would say so instead.
    const result = spawnSync(process.execPath, [MAIN, ...args], { input: '', encoding: 'utf8' });
    assert.equal(result.status, 2, args.join(' '));
    assert.match(
      result.stderr,
      /^error: --url "[^"]*" is not an http:\/\/ or https:\/\/ URL\.\n/,
      args.join(' '),
    );
  }
});
