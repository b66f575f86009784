import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, waitForHealth } from './server-process.ts';

// The password prompt under a real pseudo-terminal: util-linux `script` runs the CLI with a
// terminal as its stdin, and everything the terminal shows comes back on script's stdout.

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux');
const skip = hasScript ? false : 'needs util-linux `script` to run the CLI under a pseudo-terminal';

const dir = mkdtempSync(join(tmpdir(), 'keygate-prompt-'));
const env = { ...process.env, KEYGATE_DATABASE: join(dir, 'keygate.db'), KEYGATE_LOG_LEVEL: 'warn' };
const EMAIL = 'prompt@example.com';
const PASSWORD = 'Plum-Quartz-7731';

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

function cli(args: string[], input = '') {
  const result = spawnSync(process.execPath, [MAIN, ...args], { env, input, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Terminal {
  /** Everything the terminal showed: the prompt, anything echoed, stdout and stderr. */
  screen: string;
  code: number | null;
}

/**
 * Runs the CLI on a terminal, waits for its prompt as a person would, types `keys`, and returns
 * what the terminal showed. After the CLI, `stty -a` reports the state it left the terminal in.
 */
async function onTerminal(args: string[], keys: string): Promise<Terminal> {
  const command = `${[process.execPath, MAIN, ...args].map(quote).join(' ')}; code=$?; stty -a; exit $code`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let screen = '';
  let typed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    if (!typed && screen.includes('Password: ')) {
      typed = true;
      child.stdin.write(keys);
    }
  });
  const code = await exited(child, 20_000);
  child.stdin.end();
  assert.ok(typed, `the prompt never appeared:\n${screen}`);
  return { screen, code };
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the command under the terminal did not finish'));
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** The terminal is back in its ordinary mode: line editing, echo and Ctrl-C as a signal. */
function assertTerminalRestored(screen: string): void {
  const settings = screen.slice(screen.lastIndexOf('speed')).split(/\s+/);
  for (const flag of ['icanon', 'echo', 'isig']) assert.ok(settings.includes(flag), `${flag} is on again`);
}

/** Nothing shows between the prompt and the end of its line: no character, no mask. */
function assertNothingEchoed(screen: string, typed: string): void {
  assert.match(screen, /Password: \r?\n/);
  assert.ok(!screen.includes(typed), 'the typed password never appears');
}

describe('the password prompt on a terminal', { skip }, () => {
  let server: ChildProcess;
  let url: string;

  before(async () => {
    const org = JSON.parse(cli(['org', 'create', '--name', 'Prompt Org', '--json']).stdout);
    const user = cli(
      ['user', 'create', '--org', org.org_id, '--email', EMAIL, '--password-stdin', '--json'],
      `${PASSWORD}\n`,
    );
    assert.equal(user.code, 0, user.stderr);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], {
      env,
      stdio: 'ignore',
    });
    await waitForHealth(url, server);
  });
  after(() => {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  test('login with the right password, typed with a corrected typo: nothing echoed, a session token', async () => {
    // Ctrl-U clears "oops"; "X" is typed, then erased by Backspace; Left arrow edits nothing.
    const { screen, code } = await onTerminal(
      ['login', '--url', url, '--user', EMAIL],
      `oops\x15${PASSWORD.slice(0, 6)}X\x7f\x1b[D${PASSWORD.slice(6)}\r`,
    );
    assert.equal(code, 0, screen);
    assertNothingEchoed(screen, PASSWORD.slice(0, 6));
    assert.ok(!screen.includes(PASSWORD.slice(6)));
    assert.match(screen, /^[\w-]+\.[\w-]+\.[\w-]+\r?$/m, 'the session token is printed');
    assertTerminalRestored(screen);
  });

  test('login with a wrong password is rejected (exit 3)', async () => {
    const wrong = 'Wrong-Guess-0000';
    const { screen, code } = await onTerminal(['login', '--url', url, '--user', EMAIL], `${wrong}\r`);
    assert.equal(code, 3, screen);
    assertNothingEchoed(screen, wrong);
    assert.match(screen, /error: /);
    assertTerminalRestored(screen);
  });

  test('Ctrl-C aborts with exit 130 and gives the terminal back', async () => {
    const { screen, code } = await onTerminal(['login', '--url', url, '--user', EMAIL], 'half\x03');
    assert.equal(code, 130, screen);
    assertNothingEchoed(screen, 'half');
    assert.match(screen, /Interrupted/);
    assertTerminalRestored(screen);
  });

  test('Ctrl-D on an empty line aborts as a usage error (exit 2)', async () => {
    const { screen, code } = await onTerminal(['login', '--url', url, '--user', EMAIL], '\x04');
    assert.equal(code, 2, screen);
    assert.match(screen, /Nothing was entered/);
    assertTerminalRestored(screen);
  });

  test('user set-password refuses a short password typed at the prompt (exit 2) and changes nothing', async () => {
    const short = 'Tiny-Pass-1';
    const { screen, code } = await onTerminal(['user', 'set-password', EMAIL], `${short}\r`);
    assert.equal(code, 2, screen);
    assertNothingEchoed(screen, short);
    assert.match(screen, /shorter than 12 characters/);
    assertTerminalRestored(screen);
    const login = cli(['login', '--url', url, '--user', EMAIL, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(login.code, 0, 'the old password still works');
  });

  test('user set-password reads the new password from the prompt; the old one stops working', async () => {
    const next = 'Fresh-Granite-4410';
    const { screen, code } = await onTerminal(['user', 'set-password', EMAIL], `${next}\r`);
    assert.equal(code, 0, screen);
    assertNothingEchoed(screen, next);
    assertTerminalRestored(screen);
    const login = (password: string) =>
      cli(['login', '--url', url, '--user', EMAIL, '--password-stdin'], `${password}\n`).code;
    assert.equal(login(PASSWORD), 3, 'the old password is refused');
    assert.equal(login(next), 0, 'the new password, piped, logs in');
  });
});
