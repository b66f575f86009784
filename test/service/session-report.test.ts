import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SESSION_ISSUER, SESSION_TYP } from '../../src/core/session-token.ts';
import { AUD, type Fixture, fixture, NOW, rejectsWith } from '../helpers.ts';

let f: Fixture;
before(async () => {
  f = await fixture();
});
after(() => f.close());

// Regression: /auth/hello once listed the `session` check twice for a server-signed token
// without `sid` (a failure from the token's claims, then a skip from the session lookup).
test('/auth/hello lists each check once for a server-signed session token without sid', async () => {
  const token = f.keygate.keyring.sign(
    { alg: 'ES256', typ: SESSION_TYP },
    { iss: SESSION_ISSUER, aud: AUD, sub: 'u-1', org_id: f.orgId, role: 'user', iat: NOW, exp: NOW + 600 },
  );
  const report = await f.keygate.authenticator.explain(token);
  assert.equal(report.kind, 'session');
  assert.equal(report.code, 'claim_missing');
  assert.deepEqual(
    report.checks.map((c) => [c.name, c.ok, c.skipped ?? false]),
    [
      ['token', true, false],
      ['format', true, false],
      ['header', true, false],
      ['alg', true, false],
      ['kid', true, false],
      ['key', true, false],
      ['signature', true, false],
      ['iss', true, false],
      ['sub', true, false],
      ['exp', true, false],
      ['iat', true, false],
      ['nbf', true, false],
      ['aud', true, false],
      ['role', true, false],
      ['sid', false, false],
      ['session', false, true],
    ],
  );
  await rejectsWith(f.keygate.authenticator.authenticate(token), 'claim_missing');
});
