import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
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

test('the registry holds the closed set DESIGN.md names', () => {
  assert.deepEqual(
    [...REASON_CODE_LIST].sort(),
    `token_missing token_malformed alg_not_allowed kid_missing kid_unknown kid_mismatch key_revoked
key_disabled key_expired iss_mismatch signature_invalid claim_missing claim_invalid token_expired
lifetime_too_long iat_in_future aud_mismatch role_invalid role_not_permitted jti_reused session_revoked`
      .split(/\s+/)
      .sort(),
  );
});
