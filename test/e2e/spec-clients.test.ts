import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../../src/http/app.ts';
import { fixture } from '../helpers.ts';

const SPEC_001 = new URL('../../../shared/spec/001_83780cc7a802aa03.txt', import.meta.url);
// Debian's python3-jwt lives under /usr/bin/python3, which another python3 on PATH may shadow.
const python = ['python3', '/usr/bin/python3'].find(
  (candidate) => spawnSync(candidate, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' }).status === 0,
);
const hasPyJwt = python !== undefined;
let specText: string | undefined;
try {
  specText = readFileSync(SPEC_001, 'utf8');
} catch {
  specText = undefined;
}

/**
 * Spec 001's Python client, run verbatim (PyJWT from python3-jwt), with only the placeholders
 * filled in: the key made by the spec's ssh-keygen/openssl commands, the ids Keygate returned.
 */
test("spec 001's Python (PyJWT) example signs a token Keygate accepts unchanged", {
  skip: !hasPyJwt
    ? 'python3 with PyJWT is not installed (apt-get install python3-jwt)'
    : !specText && 'shared/spec is not beside the repo',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-pyjwt-'));
  try {
    const key = join(dir, 'dev-happypathology-jwtRS256.key');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '4096', '-m', 'PEM', '-f', key, '-N', '']);
    execFileSync('openssl', ['rsa', '-in', key, '-pubout', '-outform', 'PEM', '-out', `${key}.pub`], {
      stdio: 'ignore',
    });
    const f = await fixture({
      pair: {
        privateKey: createPrivateKey(readFileSync(key)),
        publicPem: readFileSync(`${key}.pub`, 'utf8'),
      },
    });
    const text = specText as string;
    const program = text
      .slice(text.indexOf('import time'), text.indexOf('    main()') + '    main()'.length)
      .replace('REPLACE THIS WITH THE ORGANIZATION ID WE PROVIDED YOU', f.orgId)
      .replace('REPLACE THIS WITH THE KEY ID WE PROVIDED YOU', f.kid)
      .replace('REPLACE THIS WITH A USER ID OF YOUR CHOICE', 'user-42');
    writeFileSync(join(dir, 'example.py'), program);
    const token = execFileSync(python as string, ['example.py'], { cwd: dir, encoding: 'utf8' }).trim();
    // The example signs with the real clock; the fixture's frozen clock follows it.
    f.now.value = Math.floor(Date.now() / 1000);
    const app = await buildApp(f.keygate);
    const whoami = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: token } });
    assert.equal(whoami.statusCode, 200, whoami.body);
    assert.deepEqual(
      {
        sub: whoami.json().results.sub,
        role: whoami.json().results.role,
        method: whoami.json().results.method,
      },
      { sub: 'user-42', role: 'user', method: 'key' },
    );
    await app.close();
    await f.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
