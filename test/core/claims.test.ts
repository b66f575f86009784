import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AUD, type Fixture, fixture, NOW, signJwt } from '../helpers.ts';

let f: Fixture;
before(async () => {
  f = await fixture();
});
after(() => f.close());

const accepts = async (overrides: Record<string, unknown>, header?: Record<string, unknown>) =>
  f.keygate.authenticator.authenticate(f.token(overrides, header));

test('every boundary that must pass, passes', async () => {
  await accepts({ iat: NOW - 600, exp: NOW - 59 });
  await accepts({ iat: NOW + 60, exp: NOW + 600 });
  await accepts({ iat: NOW, exp: NOW + 3600 });
  await accepts({ iat: NOW, exp: NOW + 1 });
  await accepts({ aud: [AUD] });
  await accepts({ aud: ['someone.else', 'us.api.happypathology.com'] });
  await accepts({ role: 'service' });
  await accepts({ jti: 'x'.repeat(256) });
});

test('the kid may travel in the header instead of the payload', async () => {
  const principal = await accepts({ kid: undefined }, { alg: 'RS256', typ: 'JWT', kid: f.kid });
  assert.equal(principal.kid, f.kid);
  await accepts({}, { alg: 'RS256', kid: f.kid });
  await accepts({}, { alg: 'RS256' });
});

test('a token without role gets the key default role, and /auth/hello warns', async () => {
  const token = f.token({ role: undefined });
  const principal = await f.keygate.authenticator.authenticate(token);
  assert.deepEqual(principal, {
    org_id: f.orgId,
    sub: 'alice',
    role: 'user',
    kid: f.kid,
    method: 'key',
    expires_at: '2027-01-15T09:00:00Z',
  });
  const report = await f.keygate.authenticator.explain(token);
  assert.equal(report.valid, true);
  const role = report.checks.find((c) => c.name === 'role');
  assert.match(role?.warning ?? '', /Add "role"/);
});

test('a token shaped like the spec 001 Python example is accepted', async () => {
  const payload = {
    aud: AUD,
    exp: NOW + 3600,
    iat: NOW,
    iss: f.orgId,
    jti: String(BigInt(NOW) * 1_000_000_000n),
    sub: 'user-1',
    kid: f.kid,
  };
  const token = signJwt({ alg: 'RS256', typ: 'JWT' }, payload, f.pair.privateKey);
  assert.equal((await f.keygate.authenticator.authenticate(token)).sub, 'user-1');
});

test('/auth/hello reports every check in order, with expected, actual and a hint for each failure', async () => {
  const token = f.token({ aud: 'wrong.example', exp: NOW - 3000, iat: NOW - 3600 });
  const report = await f.keygate.authenticator.explain(token);
  assert.equal(report.valid, false);
  assert.equal(report.code, 'token_expired');
  assert.deepEqual(
    report.checks.map((c) => [c.name, c.ok, c.code ?? null]),
    [
      ['token', true, null],
      ['format', true, null],
      ['header', true, null],
      ['alg', true, null],
      ['kid', true, null],
      ['key', true, null],
      ['algorithm', true, null],
      ['signature', true, null],
      ['iss', true, null],
      ['sub', true, null],
      ['owner', true, null],
      ['jti', true, null],
      ['exp', false, 'token_expired'],
      ['iat', true, null],
      ['nbf', true, null],
      ['lifetime', false, null],
      ['aud', false, 'aud_mismatch'],
      ['role', true, null],
      ['replay', false, null],
    ],
  );
  const aud = report.checks.find((c) => c.name === 'aud');
  assert.deepEqual(
    { expected: aud?.expected, actual: aud?.actual, hint: aud?.hint },
    {
      expected: 'api.happypathology.com or us.api.happypathology.com',
      actual: '"wrong.example"',
      hint: 'Set "aud" to this service\'s audience exactly, as /auth/hello lists it.',
    },
  );
  assert.equal(report.checks.at(-1)?.skipped, true);
  assert.equal(report.clock_skew_seconds, -3600);
  assert.equal(report.server_time, '2027-01-15T08:00:00Z');
});

test('/auth/hello never binds a jti', async () => {
  const jti = 'hello-only';
  await f.keygate.authenticator.explain(f.token({ jti }));
  await f.keygate.authenticator.explain(f.token({ jti, sub: 'bob' }));
  await accepts({ jti, sub: 'carol' });
});

test('nbf: absent, past or within the leeway passes; /auth/hello shows it as its own check', async () => {
  await accepts({ nbf: NOW - 600 });
  await accepts({ nbf: NOW + 60 });
  await accepts({ nbf: 0 });
  const report = await f.keygate.authenticator.explain(f.token({ nbf: NOW + 3600 }));
  assert.equal(report.code, 'token_not_yet_valid');
  assert.deepEqual(
    report.checks.find((c) => c.name === 'nbf'),
    {
      name: 'nbf',
      ok: false,
      code: 'token_not_yet_valid',
      message: 'The token is not valid before 2027-01-15T09:00:00Z (in 60 min), beyond the 60 s leeway.',
      hint: 'Leave "nbf" out, or set it no later than the current time; synchronise your clock (NTP).',
      expected: 'at most 2027-01-15T08:01:00Z',
      actual: '2027-01-15T09:00:00Z',
    },
  );
  const absent = await f.keygate.authenticator.explain(f.token());
  assert.deepEqual(
    absent.checks.find((c) => c.name === 'nbf'),
    { name: 'nbf', ok: true, message: 'No "nbf" claim: the token is valid from its iat.' },
  );
});

test('strings must be well-formed Unicode; escaped surrogate pairs are fine', async () => {
  assert.equal((await accepts({ sub: 'ali \ud83d\ude00' })).sub, 'ali \u{1f600}');
  const report = await f.keygate.authenticator.explain(f.token({ sub: 'x\ud800' }));
  const format = report.checks.find((c) => c.name === 'format');
  assert.equal(format?.code, 'claim_invalid');
  assert.match(format?.message ?? '', /^The payload has a string that is not well-formed Unicode/);
  assert.match(format?.hint ?? '', /lone surrogate/);
  assert.equal(report.claims, null, 'an ill-formed payload is never echoed back');
});
