import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../../src/http/app.ts';
import { fixture } from '../helpers.ts';

// Debian's python3-cryptography lives under /usr/bin/python3, which another python3 on PATH may shadow.
const python = ['python3', '/usr/bin/python3'].find(
  (candidate) => spawnSync(candidate, ['-c', 'import cryptography'], { stdio: 'ignore' }).status === 0,
);
const MISSING =
  'python3 with the cryptography package is not installed (apt-get install python3-cryptography)';
const MESSAGE = '{"op":"follow","target":"bob"}';

/** The README's Python example, between its ```python fence and the next. */
function readmeExample(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Signed messages'));
  const start = section.indexOf('```python\n') + '```python\n'.length;
  return section.slice(start, section.indexOf('```', start));
}

/**
 * The README's Python client, run as it is (only the key id filled in), signs with the
 * `cryptography` package: ES256 turned from DER into raw R||S with decode_dss_signature, and
 * RS256. On CI the package must be there, so a missing one fails instead of skipping.
 */
test("the README's Python example (cryptography) signs ES256 and RS256 messages the endpoint verifies", {
  skip: !python && !process.env.CI ? MISSING : false,
}, async () => {
  assert.ok(python, `${MISSING}; CI installs it, so this test must run there`);
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const f = await fixture({
    pair: {
      privateKey: ec.privateKey,
      publicPem: ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
  });
  const rsaKid = (
    await f.keygate.keys.registerKey({
      orgId: f.orgId,
      publicKey: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      grantedByAdmin: true,
    })
  ).key_id;
  const app = await buildApp(f.keygate);
  const dir = mkdtempSync(join(tmpdir(), 'keygate-pysign-'));
  try {
    const keys = [
      ['ES256', f.kid, ec.privateKey.export({ type: 'pkcs8', format: 'pem' })],
      // PKCS#1, as ssh-keygen -m PEM writes it.
      ['RS256', rsaKid, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' })],
    ] as const;
    for (const [alg, kid, pem] of keys) {
      writeFileSync(join(dir, 'private.pem'), pem);
      writeFileSync(
        join(dir, 'example.py'),
        readmeExample().replace('REPLACE THIS WITH THE KEY ID WE PROVIDED YOU', kid),
      );
      const output = execFileSync(python as string, ['example.py'], { cwd: dir, encoding: 'utf8' });
      const [attached, detached] = output.trim().split('\n') as [string, string];
      const accepted = {
        valid: true,
        org_id: f.orgId,
        key_id: kid,
        owner: { type: 'org', id: f.orgId },
        alg,
        payload: MESSAGE,
      };
      for (const payload of [{ jws: attached }, { jws: detached, payload: MESSAGE }]) {
        const response = await app.inject({ method: 'POST', url: '/v1/signatures/verify', payload });
        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json().results, accepted, `${alg} ${payload.jws}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await app.close();
    await f.close();
  }
});
