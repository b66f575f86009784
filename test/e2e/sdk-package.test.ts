import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AUD } from '../helpers.ts';
import { freePort, waitForHealth } from './server-process.ts';

// What an integrator gets from npm: `npm pack` (its prepack builds dist/), the tarball installed
// into a fresh project, and from there the SDK imported as `keygate/sdk`, the `keygate` command
// and the server, all running the package's JavaScript, not this checkout's sources.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const dir = mkdtempSync(join(tmpdir(), 'keygate-package-'));
const app = join(dir, 'app');
const bin = join(app, 'node_modules/.bin/keygate');
const env = {
  ...process.env,
  // This Node (24) first, as the pinned one is under npm scripts.
  PATH: [dirname(process.execPath), process.env.PATH].join(delimiter),
  KEYGATE_DATABASE: join(dir, 'keygate.db'),
  KEYGATE_AUDIENCES: AUD,
  KEYGATE_LOG_LEVEL: 'warn',
  NODE_COMPILE_CACHE: join(dir, 'compile-cache'),
  npm_config_update_notifier: 'false',
};

function run(command: string, args: string[], cwd: string, input = ''): string {
  const result = spawnSync(command, args, { cwd, env, input, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}
const CHECKPOINT_THREAD = 'keygate/dist/store/sqlite-checkpoint-worker.js';
const keygate = (args: string[], input?: string) => JSON.parse(run(bin, [...args, '--json'], app, input));

describe('the npm package', { timeout: 240_000 }, () => {
  let tarball: string;
  let server: ChildProcess | undefined;
  let url: string;
  const timings: Record<string, number> = {};

  before(async () => {
    let start = Date.now();
    run('npm', ['pack', '--pack-destination', dir, '--silent'], ROOT);
    timings.pack = Date.now() - start;
    tarball = join(dir, `keygate-${manifest.version}.tgz`);
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }),
    );
    start = Date.now();
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
    timings.install = Date.now() - start;
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(bin, ['serve', '--port', String(port)], {
      cwd: app,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await waitForHealth(url, server);
  });
  after(() => {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`# npm pack ${timings.pack} ms, npm install ${timings.install} ms\n`);
  });

  test('holds the built JavaScript, its types and its assets, and no sources, tests or benchmarks', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((path) => path.replace(/^package\//, ''));
    for (const path of [
      'package.json',
      'bin/keygate.js',
      'dist/cli/main.js',
      'dist/sdk/index.js',
      'dist/sdk/index.d.ts',
      'dist/store/sqlite-checkpoint-worker.js',
      'dist/core/common-passwords.txt',
      'dist/web/index.html',
      'dist/web/main.ts',
    ])
      assert.ok(files.includes(path), path);
    assert.deepEqual(
      files.filter((path) => /^(src|test|bench|scripts)\//.test(path) || path.startsWith('tsconfig')),
      [],
    );
  });

  test('`keygate --help` from the installed package lists the commands', () => {
    const help = run(bin, ['--help'], app);
    for (const command of ['serve', 'org', 'key', 'keygen', 'token', 'hello', 'user', 'login'])
      assert.match(help, new RegExp(`^  ${command}\\b`, 'm'));
  });

  test('on an older Node, the installed keygate runs under the pinned Node npm installed beside it', (t) => {
    const machine = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    if (!/^v(1\d|2[0-3])\./.test(machine))
      return t.skip(`/usr/bin/node is ${machine || 'absent'}, not older than 24`);
    const result = spawnSync('/usr/bin/node', [bin, '--version'], {
      cwd: app,
      env: { ...env, PATH: '/usr/bin:/bin' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), manifest.version);
  });

  test('a script importing keygate/sdk signs with createSigner and /v1/whoami accepts it', () => {
    const org = keygate(['org', 'create', '--name', 'Package Org']);
    keygate(['keygen', '--type', 'ec', '--out', join(app, 'my.key')]);
    const key = keygate(['key', 'add', '--org', org.org_id, '--public-key', join(app, 'my.key.pub')]);
    writeFileSync(
      join(app, 'client.js'),
      `import { readFileSync } from 'node:fs';
import { createSigner } from 'keygate/sdk';

const [orgId, keyId, url] = process.argv.slice(2);
const signer = createSigner({
  privateKey: readFileSync('my.key', 'utf8'),
  orgId, keyId, audience: '${AUD}', sub: 'alice',
});
const response = await signer.fetch(url + '/v1/whoami');
console.log(JSON.stringify({ status: response.status, results: (await response.json()).results }));
`,
    );
    const output = JSON.parse(run(process.execPath, ['client.js', org.org_id, key.key_id, url], app));
    assert.deepEqual(
      { ...output, results: { ...output.results, expires_at: typeof output.results.expires_at } },
      {
        status: 200,
        results: {
          org_id: org.org_id,
          sub: 'alice',
          role: 'user',
          kid: key.key_id,
          method: 'key',
          expires_at: 'string',
        },
      },
    );
  });

  test('the types resolve through exports: a TypeScript consumer type-checks, and a wrong reason code fails', () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { createSigner, createVerifier, type ReasonCode, type VerifyResult } from 'keygate/sdk';
const code: ReasonCode = 'iat_in_future';
// @ts-expect-error not a reason code
const wrong: ReasonCode = 'clock_wrong';
const signer = createSigner({ privateKey: '', orgId: 'o', keyId: 'k', audience: 'a', sub: 's' });
const token: string = signer.getToken();
const result: Promise<VerifyResult> = createVerifier({ url: 'http://127.0.0.1:8080' }).verify(token);
// @ts-expect-error a verdict is not a number: the types behind index.d.ts resolve
const number: Promise<number> = createVerifier({ url: 'http://127.0.0.1:8080' }).verify(token);
export { code, number, result, wrong };
`,
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const types = join(ROOT, 'node_modules/@types');
    const options = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2024'];
    run(process.execPath, [tsc, ...options, '--typeRoots', types, '--types', 'node', 'check.ts'], app);
  });

  test('the packaged server serves the dashboard and a CLI account reads its password list', async () => {
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const script = await fetch(`${url}/web/main.js`);
    assert.equal(script.status, 200);
    const org = keygate(['org', 'create', '--name', 'Account Org']);
    const user = keygate(
      ['user', 'create', '--org', org.org_id, '--email', 'ali@example.com', '--password-stdin'],
      'a long and uncommon passphrase 7431\n',
    );
    assert.equal(user.email, 'ali@example.com');
  });

  test('the packaged server starts from its bundle alone, and loads the API docs and metrics packages on first use', async () => {
    // Every module file Node resolves, logged by a hook on both import and require.
    const log = join(dir, 'loaded.txt');
    const hook = join(dir, 'log-loads.mjs');
    writeFileSync(log, '');
    writeFileSync(
      hook,
      `import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    if (result.url.startsWith('file:')) appendFileSync(${JSON.stringify(log)}, result.url + '\\n');
    return result;
  },
});
`,
    );
    const loaded = () => {
      const packages = pathToFileURL(join(app, 'node_modules')).href;
      const urls = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line && !line.endsWith('/log-loads.mjs'));
      return [...new Set(urls)].map((loadedUrl) => {
        assert.ok(loadedUrl.startsWith(`${packages}/`), loadedUrl);
        return loadedUrl.slice(packages.length + 1);
      });
    };
    const port = await freePort();
    const logged = spawn(bin, ['serve', '--port', String(port)], {
      cwd: app,
      env: { ...env, NODE_OPTIONS: `--import=${pathToFileURL(hook).href}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      await waitForHealth(`http://127.0.0.1:${port}`, logged);
      const atStart = loaded();
      assert.deepEqual(
        atStart.filter((path) => !/^keygate\/(bin|dist)\//.test(path)),
        [],
        "the package's own files only",
      );
      const bundled = atStart.filter((path) => path.startsWith('keygate/dist/'));
      assert.ok(
        bundled.length < 40,
        `a few dozen bundled files, not the sources' hundreds of modules: ${bundled.join(', ')}`,
      );
      // One character outside ASCII and Node holds the file's whole source as a two-byte string.
      for (const path of bundled)
        assert.doesNotMatch(readFileSync(join(app, 'node_modules', path), 'utf8'), /[\u0080-\uffff]/, path);

      const docs = await fetch(`http://127.0.0.1:${port}/docs/static/swagger-ui.css`);
      assert.equal(docs.status, 200);
      assert.ok((await docs.text()).length > 10_000);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^keygate_/m);
      const packages = loaded().map((path) =>
        path
          .split('/')
          .slice(0, path.startsWith('@') ? 2 : 1)
          .join('/'),
      );
      for (const name of ['@fastify/swagger-ui', 'prom-client']) assert.ok(packages.includes(name), name);

      // The store's first write starts its checkpoint thread, from the script beside the bundle.
      const org = keygate(['org', 'create', '--name', 'Bundle Org']);
      keygate(['keygen', '--type', 'ec', '--out', join(app, 'bundle.key')]);
      const key = keygate(['key', 'add', '--org', org.org_id, '--public-key', join(app, 'bundle.key.pub')]);
      const { token } = keygate([
        'token',
        ...['--key', join(app, 'bundle.key'), '--org', org.org_id, '--kid', key.key_id, '--sub', 'alice'],
      ]);
      const whoami = await fetch(`http://127.0.0.1:${port}/v1/whoami`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(whoami.status, 200);
      for (let waited = 0; !loaded().includes(CHECKPOINT_THREAD) && waited < 5_000; waited += 50)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(loaded().includes(CHECKPOINT_THREAD), CHECKPOINT_THREAD);
      assert.equal(logged.exitCode, null);
    } finally {
      // Stopped before the test's folder is removed, which it still writes to.
      const exited = logged.exitCode === null ? once(logged, 'exit') : undefined;
      logged.kill('SIGTERM');
      await exited;
    }
  });
});
