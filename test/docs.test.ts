import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODE_LIST, ERROR_CODES } from '../src/core/error-codes.ts';
import { REASON_CODE_LIST, REASON_CODES } from '../src/core/reason-codes.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('the README lists exactly the reason codes of the registry, with the same message and hint', () => {
  const documented = [...readme.matchAll(/^\| `([a-z_]+)` +\| (.+?) +\| (.+?) +\|$/gm)].filter(([, code]) =>
    Object.hasOwn(REASON_CODES, code as string),
  );
  assert.deepEqual(
    documented.map(([, code]) => code),
    REASON_CODE_LIST,
  );
  for (const [, code, message, hint] of documented) {
    const entry = REASON_CODES[code as keyof typeof REASON_CODES];
    assert.equal(message, entry.message, code);
    assert.equal(hint, entry.hint, code);
  }
});

test('the README lists exactly the error codes of the registry, with the same status, message and hint', () => {
  // Every row with a status column, known code or not: a documented code the registry lacks fails too.
  const documented = [...readme.matchAll(/^\| `([a-z_]+)` +\| (\d{3}) +\| (.+?) +\| (.+?) +\|$/gm)];
  assert.deepEqual(
    documented.map(([, code]) => code),
    ERROR_CODE_LIST,
  );
  for (const [, code, status, message, hint] of documented) {
    const entry = ERROR_CODES[code as keyof typeof ERROR_CODES];
    assert.equal(Number(status), entry.status, code);
    assert.equal(message, entry.message, code);
    assert.equal(hint, entry.hint, code);
  }
});

test('no error code is also a reason code: a client can tell a refused token from any other refusal', () => {
  assert.deepEqual(
    ERROR_CODE_LIST.filter((code) => Object.hasOwn(REASON_CODES, code)),
    [],
  );
});

test('the reason-code registry holds the closed set DESIGN.md names', () => {
  assert.deepEqual(
    [...REASON_CODE_LIST].sort(),
    `token_missing token_malformed alg_not_allowed kid_missing kid_unknown kid_mismatch key_revoked
key_disabled key_expired iss_mismatch signature_invalid claim_missing claim_invalid token_expired
token_not_yet_valid lifetime_too_long iat_in_future aud_mismatch role_invalid role_not_permitted
sub_not_permitted jti_reused session_revoked`
      .split(/\s+/)
      .sort(),
  );
});

test('the README shows deploy/nginx-forward-auth.conf exactly as the forward-auth test runs it', () => {
  const config = readFileSync(new URL('../deploy/nginx-forward-auth.conf', import.meta.url), 'utf8');
  assert.ok(readme.includes(`\`\`\`nginx\n${config}\`\`\`\n`));
});
