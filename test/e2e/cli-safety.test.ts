import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, waitForHealth } from './server-process.ts';

// The CLI with files it does not own and answers it cannot trust: keygen --force never writes
// through what is at the path, human output never hands a terminal its control sequences, and a
// chosen password has a floor.

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux');
const dir = mkdtempSync(join(tmpdir(), 'keygate-safety-'));
const env = { ...process.env, KEYGATE_DATABASE: join(dir, 'keygate.db'), KEYGATE_LOG_LEVEL: 'warn' };
after(() => rmSync(dir, { recursive: true, force: true }));

function keygate(args: string[], input = '') {
  const result = spawnSync(process.execPath, [MAIN, ...args], { env, input, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(args: string[], input = '') {
  const result = keygate([...args, '--json'], input);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout);
}

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** Runs the CLI with a terminal as stdin and stdout (util-linux `script`); returns what it showed. */
async function onTerminal(args: string[], extraEnv: Record<string, string>): Promise<string> {
  const command = [process.execPath, MAIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...env, ...extraEnv },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let screen = '';
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString('latin1');
  });
  await new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end();
  return screen;
}

describe('keygen --force replaces what is at the path instead of writing through it', () => {
  test('over a private key left in a 0644 file: a new file of mode 0600', () => {
    const keyPath = join(dir, 'loose.key');
    writeFileSync(keyPath, 'old key', { mode: 0o644 });
    writeFileSync(`${keyPath}.pub`, 'old public key', { mode: 0o644 });
    json(['keygen', '--type', 'ec', '--out', keyPath, '--force']);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    assert.match(readFileSync(keyPath, 'utf8'), /BEGIN EC PRIVATE KEY/);
    assert.match(readFileSync(`${keyPath}.pub`, 'utf8'), /BEGIN PUBLIC KEY/);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.endsWith('.tmp')),
      [],
      'no temporary file is left',
    );
  });

  test('over symlinks to other files: the targets are untouched, the paths become regular 0600/0644 files', () => {
    const elsewhere = join(dir, 'authorized_keys');
    const elsewherePub = join(dir, 'elsewhere.pub');
    writeFileSync(elsewhere, 'precious', { mode: 0o644 });
    writeFileSync(elsewherePub, 'also precious', { mode: 0o644 });
    const keyPath = join(dir, 'linked.key');
    symlinkSync(elsewhere, keyPath);
    symlinkSync(elsewherePub, `${keyPath}.pub`);
    json(['keygen', '--type', 'ec', '--out', keyPath, '--force']);
    assert.equal(readFileSync(elsewhere, 'utf8'), 'precious');
    assert.equal(statSync(elsewhere).mode & 0o777, 0o644);
    assert.equal(readFileSync(elsewherePub, 'utf8'), 'also precious');
    for (const [path, mode] of [
      [keyPath, 0o600],
      [`${keyPath}.pub`, 0o644 & ~process.umask()],
    ] as const) {
      const stat = lstatSync(path);
      assert.ok(stat.isFile() && !stat.isSymbolicLink(), `${path} is a regular file`);
      assert.equal(stat.mode & 0o777, mode, path);
    }
    assert.match(readFileSync(keyPath, 'utf8'), /BEGIN EC PRIVATE KEY/);
  });

  test('without --force, a dangling symlink counts as a file there and nothing is created through it', () => {
    const keyPath = join(dir, 'dangling.key');
    const target = join(dir, 'not-yet');
    symlinkSync(target, keyPath);
    const result = keygate(['keygen', '--type', 'ec', '--out', keyPath]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /exists already/);
    assert.equal(lstatSync(target, { throwIfNoEntry: false }), undefined);
  });

  test('a path that cannot be written is a usage error naming the path', () => {
    const result = keygate(['keygen', '--type', 'ec', '--out', dir, '--force']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, new RegExp(`Cannot write ${dir}: E[A-Z]+\\.`));
  });
});

describe('a password has a floor where one is chosen', () => {
  let orgId: string;
  before(() => {
    orgId = json(['org', 'create', '--name', 'Floor Org']).org_id;
  });
  const create = (email: string, password: string, json = false) =>
    keygate(
      ['user', 'create', '--org', orgId, '--email', email, '--password-stdin', ...(json ? ['--json'] : [])],
      password,
    );

  test('11 characters are refused with exit 2 and what to choose instead; 12 are accepted', () => {
    const short = create('short@example.com', 'Tulip-Ocean');
    assert.equal(short.code, 2);
    assert.equal(
      short.stderr,
      'error: password: The password is shorter than 12 characters.\n' +
        'hint: Choose one of 12 characters or more: a passphrase of four unrelated words is long and easy to remember, or let a password manager make one.\n',
    );
    assert.equal(create('long@example.com', 'Tulip-Ocean7').code, 0);
    assert.equal(json(['user', 'list', '--org', orgId]).length, 1, 'the refused account was not created');
  });

  test('a listed password is refused in any case, and the refusal never contains it', () => {
    for (const password of ['password1234', 'PassWord1234', 'QWERTYUIOP12']) {
      const refused = create(`${password}@example.com`, password, true);
      assert.equal(refused.code, 2);
      const { error } = JSON.parse(refused.stdout);
      assert.equal(error.code, 'invalid_input');
      assert.equal(error.field, 'password');
      assert.match(error.message, /list of common passwords/);
      assert.ok(!refused.stdout.toLowerCase().includes(password.toLowerCase()));
    }
  });

  test('set-password has the same floor; login does not (it only sends a hash)', () => {
    const refused = keygate(['user', 'set-password', 'long@example.com', '--password-stdin'], 'iloveyou1234');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /common passwords/);
    assert.ok(!refused.stderr.includes('iloveyou1234'));
    assert.equal(
      keygate(['user', 'set-password', 'long@example.com', '--password-stdin'], 'Quiet-Lantern-Moss').code,
      0,
    );
  });
});

describe('hello on a terminal, against a token built to take it over', { skip: !hasScript }, () => {
  let server: ChildProcess;
  let url: string;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], { env, stdio: 'ignore' });
    await waitForHealth(url, server);
  });
  after(() => server?.kill('SIGTERM'));

  /** A token for `sub` from a new organization and P-256 key, made with the CLI as a user would. */
  function tokenWithSub(orgName: string, sub: string): string {
    const org = json(['org', 'create', '--name', orgName]);
    const keyPath = join(dir, `${org.org_id}.key`);
    json(['keygen', '--type', 'ec', '--out', keyPath]);
    const key = json(['key', 'add', '--org', org.org_id, '--public-key', `${keyPath}.pub`]);
    const args = ['token', '--key', keyPath, '--org', org.org_id, '--kid', key.key_id, '--sub', sub];
    return json(args).token as string;
  }

  test('a sub that retitles and clears the terminal is printed escaped: no ESC, BEL or bidi override', async () => {
    const sub = '\u001b]0;pwned\u0007\u001b[2J\u202eTOKEN OK\u009b';
    const token = tokenWithSub('Terminal Org', sub);
    const screen = await onTerminal(['hello', '--url', url], { KEYGATE_TOKEN: token });
    assert.match(screen, /Token accepted/, screen);
    assert.ok(screen.includes('sub \\x1b]0;pwned\\x07\\x1b[2J\\u202eTOKEN OK\\x9b, role'), screen);
    assert.ok(!screen.includes('\u001b'), 'no ESC byte reaches the terminal');
    assert.ok(!screen.includes('\u0007'), 'no BEL');
    assert.ok(!screen.includes('\u00e2\u0080\u00ae'), 'no U+202E (its UTF-8 bytes)');
    assert.ok(!screen.includes('\u00c2\u009b'), 'no C1 CSI (its UTF-8 bytes)');
  });

  test('JSON output keeps the sub exactly, as JSON escapes it', () => {
    const sub = '\u001b[2Jalice';
    const token = tokenWithSub('Json Org', sub);
    const hello = keygate(['hello', '--url', url, '--json'], token);
    assert.equal(hello.code, 0, hello.stdout);
    assert.ok(hello.stdout.includes('"sub": "\\u001b[2Jalice"'));
    assert.equal(JSON.parse(hello.stdout).principal.sub, sub);
  });
});
