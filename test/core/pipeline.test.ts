import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { CHECK_NAMES, CheckRun, checkTable, defineCheck, fail, pass } from '../../src/core/check-run.ts';
import { kidToLookUp } from '../../src/core/header-checks.ts';
import { KEY_PAIR_CHECKS, verifyKeyPairToken } from '../../src/core/key-pair-token.ts';
import type { KeyRecord } from '../../src/core/key-record.ts';
import { reject } from '../../src/core/reason-codes.ts';
import { SESSION_CHECKS, SESSION_TYP, verifySessionToken } from '../../src/core/session-token.ts';
import { parseCompactJws } from '../../src/core/token-format.ts';
import { classifyToken, INTAKE_CHECKS } from '../../src/core/token-intake.ts';
import type { ResolvedKey } from '../../src/core/verifying-key.ts';
import { AUD, NOW, POLICY, resolvedKey, signJwt } from '../helpers.ts';

/** Each stage of the verification pipeline on its own: no store, no service, no clock. */

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const KID = '11111111-2222-4333-8444-555555555555';
const ORG = '99999999-8888-4777-8666-555555555555';

function resolved(
  privateKeyOwner: { publicKey: KeyObject },
  overrides: Partial<KeyRecord> = {},
): ResolvedKey {
  return resolvedKey(privateKeyOwner.publicKey, { id: KID, orgId: ORG, ...overrides });
}

const KEY = resolved(ec);
const claims = (overrides: Record<string, unknown> = {}) => ({
  iss: ORG,
  sub: 'alice',
  jti: 'j-1',
  aud: AUD,
  iat: NOW,
  exp: NOW + 600,
  kid: KID,
  role: 'user',
  ...overrides,
});
const jwsOf = (
  payload: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'ES256', typ: 'JWT' },
) => {
  const parsed = parseCompactJws(signJwt(header, payload, ec.privateKey));
  assert.ok(parsed.ok);
  return parsed.jws;
};
const env = { key: KEY, policy: POLICY, now: NOW };

describe('check runner', () => {
  interface V {
    token: string;
    format: number;
    header: number;
  }
  const check = defineCheck<V, { fails: boolean }>();
  const table = checkTable<V, { fails: boolean }>(
    [],
    [
      check({ name: 'token', needs: [], run: () => pass('t') }),
      check({
        name: 'format',
        needs: ['token'],
        run: ({ token }, { fails }) => (fails ? fail(reject('token_malformed')) : pass(token.length)),
      }),
      check({ name: 'header', needs: ['format'], run: ({ format }) => pass(format + 1) }),
    ],
  );

  test('passes typed values from one check to the next', () => {
    const run = new CheckRun('first-failure');
    assert.deepEqual(run.execute(table, { fails: false }, {}), { token: 't', format: 1, header: 2 });
    assert.equal(run.failure, undefined);
    assert.deepEqual(run.results, [], 'first-failure mode keeps nothing for passing checks');
  });

  test('first-failure mode stops at the first rejection', () => {
    const run = new CheckRun('first-failure');
    assert.deepEqual(run.execute(table, { fails: true }, {}), { token: 't' });
    assert.equal(run.failure?.code, 'token_malformed');
  });

  test('report mode records every check and derives what is skipped from needs', () => {
    const run = new CheckRun('report');
    run.execute(table, { fails: true }, {});
    assert.deepEqual(
      run.results.map((r) => [r.name, r.ok, r.skipped ?? false]),
      [
        ['token', true, false],
        ['format', false, false],
        ['header', false, true],
      ],
    );
    assert.equal(run.results[2]?.message, 'Not checked: it needs the format check, which did not pass.');
  });

  test('a table whose check needs a later one is refused when it is declared', () => {
    assert.throws(
      () =>
        checkTable<V, { fails: boolean }>(
          [],
          [
            check({ name: 'format', needs: ['token'], run: () => pass(1) }),
            check({ name: 'token', needs: [], run: () => pass('t') }),
          ],
        ),
      /check "format" needs "token", which does not run before it/,
    );
  });

  test('every table lists each check once, in the order of CHECK_NAMES', () => {
    for (const [given, table] of [
      [[], INTAKE_CHECKS],
      [['format'], KEY_PAIR_CHECKS],
      [['format'], SESSION_CHECKS],
    ] as const) {
      const names = [...given, ...table.map((c) => c.name)];
      assert.equal(new Set(names).size, names.length);
      const order = names.map((n) => CHECK_NAMES.indexOf(n));
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
      );
    }
  });
});

describe('intake', () => {
  test('no token, a rejection from the request, and a malformed token each stop at their check', () => {
    for (const [input, name, code] of [
      ['', 'token', 'token_missing'],
      [reject('token_malformed', { message: 'two headers' }), 'token', 'token_malformed'],
      ['a.b', 'format', 'token_malformed'],
    ] as const) {
      const run = new CheckRun('report');
      const values = run.execute(INTAKE_CHECKS, { input }, {});
      assert.equal(values.format, undefined);
      assert.equal(run.failure?.code, code);
      assert.equal(run.results.find((r) => !r.ok && !r.skipped)?.name, name);
    }
  });

  test('the kind comes from typ: session tokens are typed, everything else is key-pair', () => {
    assert.equal(classifyToken(jwsOf(claims())).kind, 'key-pair');
    assert.equal(classifyToken(jwsOf(claims(), { alg: 'ES256' })).kind, 'key-pair');
    assert.equal(
      classifyToken(jwsOf(claims(), { alg: 'ES256', typ: SESSION_TYP, kid: 'k' })).kind,
      'session',
    );
  });
});

describe('key-pair pipeline', () => {
  test('a good token yields typed claims and the very key it was given', () => {
    const verified = verifyKeyPairToken(jwsOf(claims()), env);
    assert.ok(verified.ok);
    assert.equal(verified.claims.key, KEY);
    assert.deepEqual(
      { ...verified.claims, key: undefined },
      { key: undefined, iss: ORG, sub: 'alice', jti: 'j-1', exp: NOW + 600, iat: NOW, role: 'user' },
    );
  });

  test('each stage refuses with its own reason code', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    for (const [name, jws, keyEnv, code] of [
      ['header', jwsOf(claims(), { alg: 'ES256', jku: 'https://x' }), env, 'token_malformed'],
      ['alg', jwsOf(claims(), { alg: 'ES512' }), env, 'alg_not_allowed'],
      ['kid', jwsOf(claims({ kid: undefined })), env, 'kid_missing'],
      ['key (none found)', jwsOf(claims()), { ...env, key: undefined }, 'kid_unknown'],
      ['key (another kid)', jwsOf(claims()), { ...env, key: resolved(ec, { id: 'other' }) }, 'kid_unknown'],
      [
        'key (disabled)',
        jwsOf(claims()),
        { ...env, key: resolved(ec, { status: 'disabled' }) },
        'key_disabled',
      ],
      ['algorithm', jwsOf(claims(), { alg: 'RS256' }), env, 'alg_not_allowed'],
      ['signature', jwsOf(claims()), { ...env, key: resolved(other) }, 'signature_invalid'],
      ['iss', jwsOf(claims({ iss: 'someone' })), env, 'iss_mismatch'],
      ['nbf', jwsOf(claims({ nbf: NOW + 61 })), env, 'token_not_yet_valid'],
      ['lifetime', jwsOf(claims({ exp: NOW + 3601 })), env, 'lifetime_too_long'],
      ['role', jwsOf(claims({ role: 'admin' })), env, 'role_not_permitted'],
    ] as const) {
      const verified = verifyKeyPairToken(jws, keyEnv);
      assert.ok(!verified.ok, name);
      assert.equal(verified.rejection.code, code, name);
    }
  });

  test('no claim is judged before the signature: a forged token fails on its signature', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const forged = verifyKeyPairToken(jwsOf(claims({ exp: NOW - 9999, aud: 'x', role: 'admin' })), {
      ...env,
      key: resolved(other),
    });
    assert.ok(!forged.ok);
    assert.equal(forged.rejection.code, 'signature_invalid');
  });

  test('report mode shows the claims after a bad signature but skips what needs the key', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const run = new CheckRun('report');
    verifyKeyPairToken(jwsOf(claims({ aud: 'x' })), { ...env, key: resolved(other) }, run);
    const byName = Object.fromEntries(run.results.map((r) => [r.name, r]));
    assert.equal(byName.signature?.code, 'signature_invalid');
    assert.equal(byName.iss?.skipped, true);
    assert.equal(byName.role?.skipped, true);
    assert.equal(byName.aud?.code, 'aud_mismatch');
    assert.equal(byName.sub?.ok, true);
  });

  test('without a parsed token every check is reported as skipped, once', () => {
    const run = new CheckRun('report');
    run.execute(INTAKE_CHECKS, { input: '' }, {});
    verifyKeyPairToken(undefined, env, run);
    assert.deepEqual(
      run.results.map((r) => r.name),
      ['token', 'format', ...KEY_PAIR_CHECKS.map((c) => c.name)],
    );
    assert.ok(run.results.slice(2).every((r) => r.skipped));
  });
});

describe('session pipeline', () => {
  const server = { keyObject: ec.publicKey, signatureBytes: 64 };
  const sessionEnv = { key: server, policy: POLICY, now: NOW };
  const sessionClaims = (overrides: Record<string, unknown> = {}) => ({
    iss: 'keygate',
    aud: AUD,
    sub: 'u-1',
    org_id: ORG,
    role: 'user',
    sid: 's-1',
    iat: NOW,
    exp: NOW + 600,
    ...overrides,
  });
  const header = { alg: 'ES256', typ: SESSION_TYP, kid: 'server-1' };

  test('a good session token yields its session, org and role', () => {
    const verified = verifySessionToken(jwsOf(sessionClaims(), header), sessionEnv);
    assert.ok(verified.ok);
    assert.deepEqual(verified.claims, {
      sub: 'u-1',
      sid: 's-1',
      orgId: ORG,
      role: 'user',
      exp: NOW + 600,
      iat: NOW,
    });
  });

  test('a server-signed token without sid fails the sid check once, and lists every check once', () => {
    const run = new CheckRun('report');
    const verified = verifySessionToken(jwsOf(sessionClaims({ sid: undefined }), header), sessionEnv, run);
    assert.ok(!verified.ok);
    assert.equal(verified.rejection.code, 'claim_missing');
    assert.match(verified.rejection.hint, /Log in again/);
    const names = run.results.map((r) => r.name);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(
      run.results.filter((r) => !r.ok).map((r) => r.name),
      ['sid'],
    );
  });

  test('an unknown server key, a key-pair header parameter and a wrong issuer are refused', () => {
    for (const [jws, keyEnv, code] of [
      [jwsOf(sessionClaims(), header), { ...sessionEnv, key: undefined }, 'kid_unknown'],
      [jwsOf(sessionClaims(), { ...header, jku: 'x' }), sessionEnv, 'token_malformed'],
      [jwsOf(sessionClaims({ iss: ORG }), header), sessionEnv, 'iss_mismatch'],
      [jwsOf(sessionClaims({ exp: NOW - 3600, iat: NOW - 4000 }), header), sessionEnv, 'token_expired'],
    ] as const) {
      const verified = verifySessionToken(jws, keyEnv);
      assert.ok(!verified.ok);
      assert.equal(verified.rejection.code, code);
    }
  });
});

describe('key lookup', () => {
  test('only a token whose header, alg and kid checks pass names a key to look up', () => {
    const lookUp = (payload: Record<string, unknown>, header: Record<string, unknown>) => {
      const jws = jwsOf(payload, header);
      return kidToLookUp(jws.header, jws.payload);
    };
    assert.equal(lookUp(claims(), { alg: 'ES256', typ: 'JWT' }), KID);
    assert.equal(lookUp(claims({ kid: undefined }), { alg: 'ES256', kid: KID }), KID);
    assert.equal(lookUp(claims(), { alg: 'none' }), undefined);
    assert.equal(lookUp(claims(), { alg: 'ES256', jwk: {} }), undefined);
    assert.equal(lookUp(claims(), { alg: 'ES256', kid: 'another' }), undefined);
    assert.equal(lookUp(claims({ kid: undefined }), { alg: 'ES256' }), undefined);
  });
});
