import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

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
