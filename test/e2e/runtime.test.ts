import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, waitForHealth } from './server-process.ts';

// The project brings its own Node 24 (the pinned `node` dependency): `npm ci && npm start` and
// `./bin/keygate.js` work on a machine whose own Node is older. These run the machine's Node.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MACHINE_NODE = '/usr/bin/node';
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

const machineVersion = spawnSync(MACHINE_NODE, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
const machineMajor = Number(/^v(\d+)\./.exec(machineVersion)?.[1] ?? Number.NaN);
const skip =
  machineVersion === ''
    ? `there is no ${MACHINE_NODE} to play the machine's own Node`
    : machineMajor >= 24
      ? `${MACHINE_NODE} is ${machineVersion}, not older than 24: nothing to bring`
      : false;

/** The PATH of a shell on this machine: without the node_modules/.bin that `npm test` put first. */
const machinePath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((entry) => entry !== '' && !entry.includes('node_modules'))
  .join(delimiter);
const machineEnv = Object.fromEntries(
  Object.entries({ ...process.env, PATH: machinePath }).filter(([name]) => !name.startsWith('npm_')),
);

function firstOnPath(command: string, path: string): string | undefined {
  for (const entry of path.split(delimiter)) {
    try {
      accessSync(join(entry, command), constants.X_OK);
      return join(entry, command);
    } catch {
      // not here
    }
  }
  return undefined;
}

const dir = mkdtempSync(join(tmpdir(), 'keygate-runtime-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe(`on the machine's own Node (${machineVersion || 'none'})`, { skip }, () => {
  test('the runtime is pinned: an exact Node 24 version, installed by npm ci', () => {
    assert.match(manifest.dependencies.node ?? '', /^24\.\d+\.\d+$/);
    const pinned = spawnSync(join(ROOT, 'node_modules/.bin/node'), ['--version'], { encoding: 'utf8' });
    assert.equal(pinned.stdout.trim(), `v${manifest.dependencies.node}`);
  });

  test('bin/keygate.js runs the command under the pinned Node', () => {
    const result = spawnSync(MACHINE_NODE, [join(ROOT, 'bin/keygate.js'), '--version'], {
      env: machineEnv,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${manifest.version}\n`);
  });

  test('serve: the server, a child under the pinned Node, has its settings, and SIGTERM stops both', async () => {
    const port = await freePort();
    const wrapper = spawn(MACHINE_NODE, [join(ROOT, 'bin/keygate.js'), 'serve', '--port', String(port)], {
      env: { ...machineEnv, KEYGATE_DATABASE: join(dir, 'serve.db'), KEYGATE_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => wrapper.once('exit', (code) => resolve(code)));
    await waitForHealth(`http://127.0.0.1:${port}`, wrapper);
    const pid = wrapper.pid as number;
    const [server] = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').map(Number);
    assert.ok(server);
    assert.match(readFileSync(`/proc/${server}/environ`, 'utf8'), /(^|\0)MALLOC_MMAP_THRESHOLD_=131072\0/);
    assert.match(readFileSync(`/proc/${server}/cmdline`, 'utf8'), /\0--max-semi-space-size=16\0/);
    wrapper.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (let i = 0; i < 100 && existsSync(`/proc/${server}`); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(existsSync(`/proc/${server}`), false, 'the server outlived bin/keygate.js');
  });

  test('without the pinned Node beside it, bin/keygate.js says on its first line which Node it needs', () => {
    // The package as unpacked before `npm ci`: its package.json and bin/, no node_modules.
    const bare = join(dir, 'bare');
    mkdirSync(join(bare, 'bin'), { recursive: true });
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'keygate', type: 'module' }));
    copyFileSync(join(ROOT, 'bin/keygate.js'), join(bare, 'bin/keygate.js'));
    const result = spawnSync(MACHINE_NODE, [join(bare, 'bin/keygate.js'), '--version'], {
      env: machineEnv,
      encoding: 'utf8',
    });
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stdout, '');
    const [first] = result.stderr.split('\n');
    assert.match(first ?? '', /Node\.js 24\b/, 'names the Node it needs');
    assert.ok(first?.includes(machineVersion.slice(1)), `names the Node that ran it: ${first}`);
  });

  test("npm scripts find the pinned Node first on PATH, though the machine's is older", () => {
    assert.equal(firstOnPath('node', machinePath), MACHINE_NODE, 'the machine Node is first outside npm');
    for (const name of ['start', 'test']) assert.match(manifest.scripts[name] ?? '', /(^|&& |exec )node /);
    // `npm run env` prints the environment npm gives every script.
    const result = spawnSync('npm', ['run', '--silent', 'env'], {
      cwd: ROOT,
      env: machineEnv,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    const scriptPath = /^PATH=(.*)$/m.exec(result.stdout)?.[1] ?? '';
    const node = firstOnPath('node', scriptPath);
    assert.equal(node, join(ROOT, 'node_modules/.bin/node'));
    assert.equal(
      spawnSync(node as string, ['--version'], { encoding: 'utf8' }).stdout.trim(),
      `v${manifest.dependencies.node}`,
    );
  });

  test('npm start serves', async (t) => {
    const port = await freePort();
    const server = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        ...machineEnv,
        KEYGATE_PORT: String(port),
        KEYGATE_DATABASE: join(dir, 'start.db'),
        KEYGATE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: npm, the shell and the server stop together.
      detached: true,
    });
    // Waits for the group to stop: a server still closing writes beside its database while the
    // directory is removed.
    const stopped = new Promise((resolve) => server.once('exit', resolve));
    t.after(async () => {
      if (server.exitCode === null && server.pid !== undefined) process.kill(-server.pid, 'SIGTERM');
      await stopped;
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not listen:\n${output}`)), 20_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const found = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
        if (found) {
          clearTimeout(timer);
          resolve(found[1] as string);
        }
      };
      server.stdout.on('data', read);
      server.stderr.on('data', read);
      server.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited with ${code}:\n${output}`));
      });
    });
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
  });
});
