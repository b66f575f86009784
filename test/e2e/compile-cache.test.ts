import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

// bin/compile-cache.js: Node runs what it finds in the compile cache, so Keygate uses only a
// directory no other user can write, and otherwise starts without one.

const BIN = new URL('../../bin/keygate.js', import.meta.url).pathname;
const { privateDirectory } = (await import(new URL('../../bin/compile-cache.js', import.meta.url).href)) as {
  privateDirectory(root: string): string | undefined;
};
const uid = process.getuid?.() ?? -1;
const NAME = `keygate-compile-cache-${uid}`;

const dir = mkdtempSync(join(tmpdir(), 'keygate-compile-cache-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh directory to play the system's temporary directory. */
function root(name: string, mode = 0o1777): string {
  const path = join(dir, name);
  mkdirSync(path);
  chmodSync(path, mode);
  return path;
}

const cacheEntries = (path: string) =>
  readdirSync(path, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length;

test('makes its own directory, mode 0700, under a sticky temporary directory, and uses it again', () => {
  const tmp = root('fresh');
  const made = privateDirectory(tmp);
  assert.equal(made, join(tmp, NAME));
  assert.equal(statSync(made).mode & 0o7777, 0o700);
  assert.equal(privateDirectory(tmp), made);
  // A parent only its owner can write needs no sticky bit.
  assert.equal(privateDirectory(root('private', 0o700)), join(dir, 'private', NAME));
});

test('refuses a directory that others could write or swap out: no cache rather than their code', () => {
  const open = root('open');
  mkdirSync(join(open, NAME));
  chmodSync(join(open, NAME), 0o777);
  assert.equal(privateDirectory(open), undefined, 'writable by others');

  const readable = root('readable');
  mkdirSync(join(readable, NAME), { mode: 0o755 });
  assert.equal(privateDirectory(readable), undefined, 'open to others at all');

  const linked = root('linked');
  mkdirSync(join(linked, 'elsewhere'), { mode: 0o700 });
  symlinkSync(join(linked, 'elsewhere'), join(linked, NAME));
  assert.equal(privateDirectory(linked), undefined, 'a symbolic link');

  assert.equal(privateDirectory(root('not-sticky', 0o777)), undefined, 'a parent anyone may rename in');
});

test('refuses a directory another user owns', {
  skip: uid !== 0 && 'needs root to give a directory away',
}, () => {
  const tmp = root('owned');
  mkdirSync(join(tmp, NAME), { mode: 0o700 });
  chownSync(join(tmp, NAME), 65534, 65534);
  assert.equal(privateDirectory(tmp), undefined);
});

test('bin/keygate.js fills the cache on its first run and answers the same from it', () => {
  const tmp = root('run');
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
  delete env.NODE_COMPILE_CACHE;
  const first = spawnSync(process.execPath, [BIN, '--help'], { env, encoding: 'utf8' });
  assert.equal(first.status, 0, first.stderr);
  assert.ok(cacheEntries(join(tmp, NAME)) > 20, 'the TypeScript modules are cached');
  const second = spawnSync(process.execPath, [BIN, '--help'], { env, encoding: 'utf8' });
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stdout, first.stdout);
});

test('NODE_COMPILE_CACHE names the directory instead, and NODE_DISABLE_COMPILE_CACHE turns it off', () => {
  const tmp = root('env');
  const chosen = join(tmp, 'chosen');
  const env = { ...process.env, TMPDIR: tmp, NODE_COMPILE_CACHE: chosen };
  assert.equal(spawnSync(process.execPath, [BIN, '--version'], { env }).status, 0);
  assert.ok(cacheEntries(chosen) > 0);
  assert.deepEqual(readdirSync(tmp), ['chosen']);

  const off = root('off');
  const disabled: NodeJS.ProcessEnv = { ...process.env, TMPDIR: off, NODE_DISABLE_COMPILE_CACHE: '1' };
  delete disabled.NODE_COMPILE_CACHE;
  assert.equal(spawnSync(process.execPath, [BIN, '--version'], { env: disabled }).status, 0);
  assert.equal(cacheEntries(off), 0);
});
