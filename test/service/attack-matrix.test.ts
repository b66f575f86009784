import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ReasonCode } from '../../src/core/reason-codes.ts';
import { AuthError } from '../../src/service/auth-error.ts';
import {
  b64,
  ecPair,
  type Fixture,
  fixture,
  NOW,
  rejectsWith,
  rsaPair,
  signJwt,
  signRaw,
  vector,
} from '../helpers.ts';

/**
 * Hostile and malformed tokens, each with the exact reason code it must get. Every case is also
 * run through /auth/hello's explain(), which must report the same code without binding anything.
 */
interface Case {
  name: string;
  code: ReasonCode;
  token: (f: World) => string | Promise<string>;
}

interface World {
  rsa: Fixture;
  ec: Fixture;
  otherOrgId: string;
  otherKid: string;
  otherPair: ReturnType<typeof rsaPair>;
}

const world = {} as World;
const rsaHeader = { alg: 'RS256', typ: 'JWT' };
const withHeader = (extra: Record<string, unknown>) => (w: World) =>
  w.rsa.token({}, { ...rsaHeader, ...extra });
const withClaims = (overrides: Record<string, unknown>) => (w: World) => w.rsa.token(overrides);
/** Signs a raw payload text (for JSON that JSON.stringify cannot produce). */
const rawPayload = (text: (w: World) => string) => (w: World) =>
  signRaw(b64(rsaHeader), Buffer.from(text(w)).toString('base64url'), w.rsa.pair.privateKey);
const unsigned = (alg: string) => (w: World) => `${b64({ alg, typ: 'JWT' })}.${b64(w.rsa.claims())}.`;
const replaceSegment = (index: number, value: string) => (w: World) => {
  const parts = w.rsa.token().split('.');
  parts[index] = value;
  return parts.join('.');
};

const cases: Case[] = [
  // alg: "none" in every letter case, with and without a signature
  ...['none', 'None', 'NONE', 'nOnE', 'NoNe'].map((alg) => ({
    name: `alg ${alg}`,
    code: 'alg_not_allowed' as const,
    token: unsigned(alg),
  })),
  { name: 'alg none with a signature', code: 'alg_not_allowed', token: (w) => `${unsigned('none')(w)}AAAA` },
  {
    name: 'HS256 signed with the registered public key bytes (key confusion)',
    code: 'alg_not_allowed',
    token: (w) => {
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(w.rsa.claims())}`;
      return `${input}.${createHmac('sha256', w.rsa.pair.publicPem).update(input).digest('base64url')}`;
    },
  },
  { name: 'HS384', code: 'alg_not_allowed', token: unsigned('HS384') },
  { name: 'HS512', code: 'alg_not_allowed', token: unsigned('HS512') },
  {
    name: 'PS256 signed with the registered RSA key',
    code: 'alg_not_allowed',
    token: (w) => {
      const input = `${b64({ alg: 'PS256', typ: 'JWT' })}.${b64(w.rsa.claims())}`;
      const sig = sign('sha256', Buffer.from(input), {
        key: w.rsa.pair.privateKey,
        padding: 6,
        saltLength: 32,
      });
      return `${input}.${sig.toString('base64url')}`;
    },
  },
  {
    name: 'ES384 on a P-256-looking key',
    code: 'alg_not_allowed',
    token: (w) => w.ec.token({}, { alg: 'ES384' }),
  },
  { name: 'EdDSA', code: 'alg_not_allowed', token: unsigned('EdDSA') },
  { name: 'lower-case rs256', code: 'alg_not_allowed', token: unsigned('rs256') },
  { name: 'alg is a number', code: 'alg_not_allowed', token: withHeader({ alg: 256 }) },
  { name: 'alg missing', code: 'token_malformed', token: (w) => w.rsa.token({}, { typ: 'JWT' }) },
  {
    name: 'ES256 header on an RSA key',
    code: 'alg_not_allowed',
    token: (w) => signJwt({ alg: 'ES256' }, w.rsa.claims(), ecPair().privateKey),
  },
  {
    name: 'RS256 header on a P-256 key',
    code: 'alg_not_allowed',
    token: (w) => signJwt({ alg: 'RS256' }, w.ec.claims(), w.rsa.pair.privateKey),
  },
  // header parameters that bring their own key or change how the token is read
  {
    name: 'embedded jwk of the attacker',
    code: 'token_malformed',
    token: (w) => {
      const attacker = rsaPair(2048);
      const jwk = attacker.privateKey.export({ format: 'jwk' });
      return signJwt(
        { ...rsaHeader, jwk: { kty: 'RSA', n: jwk.n, e: jwk.e } },
        w.rsa.claims(),
        attacker.privateKey,
      );
    },
  },
  { name: 'jku', code: 'token_malformed', token: withHeader({ jku: 'https://evil.example/jwks.json' }) },
  { name: 'x5u', code: 'token_malformed', token: withHeader({ x5u: 'https://evil.example/cert.pem' }) },
  { name: 'x5c', code: 'token_malformed', token: withHeader({ x5c: ['MIIB'] }) },
  { name: 'x5t', code: 'token_malformed', token: withHeader({ x5t: 'abc' }) },
  { name: 'crit', code: 'token_malformed', token: withHeader({ crit: ['exp'] }) },
  { name: 'b64 false', code: 'token_malformed', token: withHeader({ b64: false, crit: ['b64'] }) },
  { name: 'cty JWT (nested token)', code: 'token_malformed', token: withHeader({ cty: 'JWT' }) },
  { name: 'typ at+jwt', code: 'token_malformed', token: withHeader({ typ: 'at+jwt' }) },
  { name: 'unknown header parameter', code: 'token_malformed', token: withHeader({ foo: 'bar' }) },
  // serialisations and segments
  {
    name: 'JWS JSON serialization',
    code: 'token_malformed',
    token: (w) => {
      const [h, p, s] = w.rsa.token().split('.');
      return JSON.stringify({ payload: p, protected: h, signature: s });
    },
  },
  {
    name: 'JWE compact (5 segments)',
    code: 'token_malformed',
    token: () => `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`,
  },
  {
    name: '2 segments',
    code: 'token_malformed',
    token: (w) => w.rsa.token().split('.').slice(0, 2).join('.'),
  },
  { name: '4 segments', code: 'token_malformed', token: (w) => `${w.rsa.token()}.AAAA` },
  { name: '1 segment', code: 'token_malformed', token: () => 'garbage' },
  { name: 'padding on the header', code: 'token_malformed', token: (w) => w.rsa.token().replace('.', '=.') },
  { name: 'padding on the signature', code: 'token_malformed', token: (w) => `${w.rsa.token()}==` },
  { name: 'whitespace inside', code: 'token_malformed', token: (w) => w.rsa.token().replace('.', ' .') },
  { name: 'newline inside', code: 'token_malformed', token: (w) => w.rsa.token().replace('.', '\n.') },
  { name: 'standard base64 alphabet', code: 'token_malformed', token: replaceSegment(2, 'ab+/') },
  {
    name: 'non-canonical base64url (trailing bits set)',
    code: 'token_malformed',
    // "eA" decodes to "x" like "eQ" would only if trailing bits were ignored; "eB" has a set trailing bit.
    token: (w) => {
      const parts = w.rsa.token().split('.');
      return [parts[0], parts[1], 'eB'].join('.');
    },
  },
  { name: 'empty header segment', code: 'token_malformed', token: replaceSegment(0, '') },
  // JSON that reads one way to a person and another to a parser
  {
    name: 'duplicate claim',
    code: 'token_malformed',
    token: rawPayload((w) => `{"sub":"alice","sub":"admin",${JSON.stringify(w.rsa.claims()).slice(1)}`),
  },
  {
    name: 'duplicate header member',
    code: 'token_malformed',
    token: (w) =>
      signRaw(
        Buffer.from('{"alg":"RS256","alg":"none"}').toString('base64url'),
        b64(w.rsa.claims()),
        w.rsa.pair.privateKey,
      ),
  },
  {
    name: '__proto__ claim',
    code: 'token_malformed',
    token: rawPayload((w) => `{"__proto__":{"role":"admin"},${JSON.stringify(w.rsa.claims()).slice(1)}`),
  },
  { name: 'payload is an array', code: 'token_malformed', token: rawPayload(() => '[1,2,3]') },
  { name: 'payload is a string', code: 'token_malformed', token: rawPayload(() => '"claims"') },
  { name: 'payload is a number', code: 'token_malformed', token: rawPayload(() => '42') },
  {
    name: 'header is null',
    code: 'token_malformed',
    token: (w) => signRaw(b64('null'), b64(w.rsa.claims()), w.rsa.pair.privateKey),
  },
  {
    name: 'trailing characters after the JSON',
    code: 'token_malformed',
    token: rawPayload((w) => `${JSON.stringify(w.rsa.claims())}x`),
  },
  {
    name: 'invalid UTF-8 in the payload',
    code: 'token_malformed',
    token: (w) => {
      const json = Buffer.from(JSON.stringify(w.rsa.claims({ sub: 'XX' })));
      const at = json.indexOf('XX');
      json[at] = 0xc3;
      json[at + 1] = 0x28;
      return signRaw(b64(rsaHeader), json.toString('base64url'), w.rsa.pair.privateKey);
    },
  },
  { name: 'oversized token', code: 'token_malformed', token: (w) => w.rsa.token({ pad: 'x'.repeat(9000) }) },
  { name: 'empty token', code: 'token_missing', token: () => '' },
  // signatures
  {
    name: 'ECDSA all-zero signature',
    code: 'signature_invalid',
    token: (w) =>
      `${w.ec.token().split('.').slice(0, 2).join('.')}.${Buffer.alloc(64).toString('base64url')}`,
  },
  {
    name: 'DER-encoded ECDSA signature',
    code: 'signature_invalid',
    token: (w) => {
      const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(w.ec.claims())}`;
      return `${input}.${sign('sha256', Buffer.from(input), w.ec.pair.privateKey).toString('base64url')}`;
    },
  },
  {
    name: 'signed by another RSA key',
    code: 'signature_invalid',
    token: (w) => signJwt(rsaHeader, w.rsa.claims(), w.otherPair.privateKey),
  },
  {
    name: 'payload changed after signing',
    code: 'signature_invalid',
    token: (w) => {
      const [h, , s] = w.rsa.token().split('.');
      return [h, b64(w.rsa.claims({ sub: 'mallory' })), s].join('.');
    },
  },
  {
    name: 'truncated signature',
    code: 'signature_invalid',
    token: (w) => {
      const [h, p, sig] = w.rsa.token().split('.');
      return [
        h,
        p,
        Buffer.from(sig ?? '', 'base64url')
          .subarray(0, -3)
          .toString('base64url'),
      ].join('.');
    },
  },
  {
    name: 'empty signature with RS256',
    code: 'signature_invalid',
    token: (w) => `${w.rsa.token().split('.').slice(0, 2).join('.')}.`,
  },
  // claim types
  { name: 'exp as a string', code: 'claim_invalid', token: withClaims({ exp: String(NOW + 600) }) },
  { name: 'exp with a fraction', code: 'claim_invalid', token: withClaims({ exp: NOW + 600.5 }) },
  {
    name: 'exp in milliseconds is too long a life',
    code: 'lifetime_too_long',
    token: withClaims({ exp: (NOW + 600) * 1000 }),
  },
  {
    name: 'exp not finite (1e400)',
    code: 'claim_invalid',
    token: rawPayload((w) => JSON.stringify(w.rsa.claims()).replace(/"exp":\d+/, '"exp":1e400')),
  },
  { name: 'exp beyond safe integers', code: 'claim_invalid', token: withClaims({ exp: 2 ** 53 + 2 }) },
  { name: 'exp is null', code: 'claim_invalid', token: withClaims({ exp: null }) },
  { name: 'iat negative', code: 'claim_invalid', token: withClaims({ iat: -1 }) },
  { name: 'iat as boolean', code: 'claim_invalid', token: withClaims({ iat: true }) },
  { name: 'exp missing', code: 'claim_missing', token: withClaims({ exp: undefined }) },
  { name: 'iat missing', code: 'claim_missing', token: withClaims({ iat: undefined }) },
  { name: 'sub missing', code: 'claim_missing', token: withClaims({ sub: undefined }) },
  { name: 'jti missing', code: 'claim_missing', token: withClaims({ jti: undefined }) },
  { name: 'iss missing', code: 'claim_missing', token: withClaims({ iss: undefined }) },
  { name: 'aud missing', code: 'claim_missing', token: withClaims({ aud: undefined }) },
  { name: 'sub is a number', code: 'claim_invalid', token: withClaims({ sub: 42 }) },
  { name: 'sub is an object', code: 'claim_invalid', token: withClaims({ sub: { id: 1 } }) },
  { name: 'jti is empty', code: 'claim_invalid', token: withClaims({ jti: '' }) },
  { name: 'iss is an array', code: 'claim_invalid', token: withClaims({ iss: ['x'] }) },
  { name: 'aud is a number', code: 'claim_invalid', token: withClaims({ aud: 1 }) },
  { name: 'aud is an empty array', code: 'claim_invalid', token: withClaims({ aud: [] }) },
  {
    name: 'aud array holds a number',
    code: 'claim_invalid',
    token: withClaims({ aud: ['api.happypathology.com', 1] }),
  },
  // time boundaries (leeway 60 s, lifetime 3600 s)
  {
    name: 'exp exactly now - leeway',
    code: 'token_expired',
    token: withClaims({ iat: NOW - 600, exp: NOW - 60 }),
  },
  { name: 'exp long ago', code: 'token_expired', token: withClaims({ iat: NOW - 7200, exp: NOW - 3700 }) },
  {
    name: 'iat one second beyond the leeway',
    code: 'iat_in_future',
    token: withClaims({ iat: NOW + 61, exp: NOW + 600 }),
  },
  { name: 'lifetime 3601 s', code: 'lifetime_too_long', token: withClaims({ iat: NOW, exp: NOW + 3601 }) },
  { name: 'exp equal to iat', code: 'claim_invalid', token: withClaims({ iat: NOW, exp: NOW }) },
  { name: 'exp before iat', code: 'claim_invalid', token: withClaims({ iat: NOW, exp: NOW - 1 }) },
  // nbf (RFC 7519 section 4.1.5): not before now + leeway, and a whole safe integer
  { name: 'nbf one hour ahead', code: 'token_not_yet_valid', token: withClaims({ nbf: NOW + 3600 }) },
  {
    name: 'nbf one second beyond the leeway',
    code: 'token_not_yet_valid',
    token: withClaims({ nbf: NOW + 61 }),
  },
  { name: 'nbf as a string', code: 'claim_invalid', token: withClaims({ nbf: String(NOW) }) },
  { name: 'nbf with a fraction', code: 'claim_invalid', token: withClaims({ nbf: NOW + 0.5 }) },
  { name: 'nbf negative', code: 'claim_invalid', token: withClaims({ nbf: -1 }) },
  { name: 'nbf beyond the safe integers', code: 'claim_invalid', token: withClaims({ nbf: 2 ** 53 }) },
  { name: 'nbf null', code: 'claim_invalid', token: withClaims({ nbf: null }) },
  // strings that are not well-formed Unicode (I-JSON): lone surrogates, escaped
  { name: 'sub is a lone high surrogate', code: 'claim_invalid', token: withClaims({ sub: '\ud800' }) },
  {
    name: 'sub ends in a lone low surrogate',
    code: 'claim_invalid',
    token: withClaims({ sub: 'alice\udc00' }),
  },
  {
    name: 'jti holds a reversed surrogate pair',
    code: 'claim_invalid',
    token: withClaims({ jti: '\ude00\ud83d' }),
  },
  {
    name: 'an extra claim holds a lone surrogate',
    code: 'claim_invalid',
    token: withClaims({ note: ['\ud800'] }),
  },
  { name: 'a claim name is a lone surrogate', code: 'claim_invalid', token: withClaims({ '\udfff': 1 }) },
  {
    name: 'aud array holds a lone surrogate after this service',
    code: 'claim_invalid',
    token: withClaims({ aud: ['api.happypathology.com', '\ud800'] }),
  },
  { name: 'header kid is a lone surrogate', code: 'token_malformed', token: withHeader({ kid: '\ud800' }) },
  {
    name: 'a header name is a lone surrogate',
    code: 'token_malformed',
    token: withHeader({ '\udbff': 'x' }),
  },
  {
    name: 'header typ ends in a lone surrogate',
    code: 'token_malformed',
    token: (w) =>
      signRaw(b64('{"alg":"RS256","typ":"JWT\\ud800"}'), b64(w.rsa.claims()), w.rsa.pair.privateKey),
  },
  // audience look-alikes
  ...[
    'api.happypathology.com.',
    'API.happypathology.com',
    'https://api.happypathology.com',
    'evil-api.happypathology.com',
    'api.happypathology.com ',
    'api.happypathology.com.evil.example',
    'api\u200b.happypathology.com',
  ].map((aud) => ({
    name: `aud look-alike ${JSON.stringify(aud)}`,
    code: 'aud_mismatch' as const,
    token: withClaims({ aud }),
  })),
  {
    name: 'aud array without this service',
    code: 'aud_mismatch',
    token: withClaims({ aud: ['other.example', 'api.example'] }),
  },
  // issuers and key ids across organizations
  {
    name: "iss of another org with this org's key",
    code: 'iss_mismatch',
    token: (w) => w.rsa.token({ iss: w.otherOrgId }),
  },
  {
    name: "another org's kid, signed with this org's key",
    code: 'signature_invalid',
    token: (w) => w.rsa.token({ kid: w.otherKid }),
  },
  {
    name: "another org's kid and iss, signed with this org's key",
    code: 'signature_invalid',
    token: (w) => w.rsa.token({ kid: w.otherKid, iss: w.otherOrgId }),
  },
  {
    name: 'header kid differs from payload kid',
    code: 'kid_mismatch',
    token: (w) => w.rsa.token({}, { ...rsaHeader, kid: w.otherKid }),
  },
  { name: 'no kid anywhere', code: 'kid_missing', token: withClaims({ kid: undefined }) },
  { name: 'unknown kid', code: 'kid_unknown', token: withClaims({ kid: randomUUID() }) },
  { name: 'kid that is not a uuid', code: 'kid_unknown', token: withClaims({ kid: "' OR 1=1 --" }) },
  { name: 'kid is a number', code: 'claim_invalid', token: withClaims({ kid: 7 }) },
  // roles
  { name: 'role escalation to admin', code: 'role_not_permitted', token: withClaims({ role: 'admin' }) },
  { name: 'role Admin', code: 'role_invalid', token: withClaims({ role: 'Admin' }) },
  { name: 'role with trailing space', code: 'role_invalid', token: withClaims({ role: 'user ' }) },
  { name: 'role superuser', code: 'role_invalid', token: withClaims({ role: 'superuser' }) },
  { name: 'role as an array', code: 'role_invalid', token: withClaims({ role: ['admin'] }) },
  { name: 'role with a Cyrillic a', code: 'role_invalid', token: withClaims({ role: 'аdmin' }) },
];

describe('attack matrix', () => {
  before(async () => {
    world.rsa = await fixture();
    world.ec = await fixture({ pair: ecPair() });
    world.otherPair = rsaPair(2048);
    const other = await world.rsa.keygate.keys.createOrg('Other Org');
    const otherKey = await world.rsa.keygate.keys.registerKey({
      orgId: other.id,
      publicKey: world.otherPair.publicPem,
      grantedByAdmin: true,
    });
    world.otherOrgId = other.id;
    world.otherKid = otherKey.key_id;
  });
  after(async () => {
    await world.rsa.close();
    await world.ec.close();
  });

  test('has at least 60 cases', () => assert.ok(cases.length >= 60, `${cases.length} cases`));

  for (const c of cases) {
    test(`${c.name} -> ${c.code}`, async () => {
      const token = await c.token(world);
      const keygate = tokenKid(token) === world.ec.kid ? world.ec.keygate : world.rsa.keygate;
      const report = await keygate.authenticator.explain(token);
      assert.equal(report.code, c.code, `explain: ${JSON.stringify(report.checks.find((x) => !x.ok))}`);
      await assert.rejects(keygate.authenticator.authenticate(token), (error: unknown) => {
        assert.ok(error instanceof AuthError, String(error));
        assert.equal(error.rejection.code, c.code, error.rejection.message);
        assert.ok(error.rejection.message.length > 0 && error.rejection.hint.length > 0);
        return true;
      });
    });
  }

  test('a different token with a used jti -> jti_reused; the same token again is accepted', async () => {
    const jti = `jti-${randomUUID()}`;
    const first = world.rsa.token({ jti });
    await world.rsa.keygate.authenticator.authenticate(first);
    world.rsa.keygate.authenticator.cache.clear();
    await world.rsa.keygate.authenticator.authenticate(first);
    // /auth/hello peeks at the ledger under the hash the ledger bound the token with: the token
    // that holds the jti is still valid there, and named as used before.
    const again = await world.rsa.keygate.authenticator.explain(first);
    assert.equal(again.valid, true, JSON.stringify(again.checks.find((check) => !check.ok)));
    assert.match(again.checks.find((check) => check.name === 'replay')?.message ?? '', /used before/);
    const second = world.rsa.token({ jti, sub: 'bob' });
    assert.equal((await world.rsa.keygate.authenticator.explain(second)).code, 'jti_reused');
    await rejectsWith(world.rsa.keygate.authenticator.authenticate(second), 'jti_reused');
  });

  for (const [status, code] of [
    ['disabled', 'key_disabled'],
    ['revoked', 'key_revoked'],
  ] as const) {
    test(`a ${status} key -> ${code}, even for a token verified before`, async () => {
      const f = await fixture({ pair: rsaPair(2048) });
      const token = f.token();
      await f.keygate.authenticator.authenticate(token);
      await f.keygate.keys.setKeyStatus(f.kid, status);
      await rejectsWith(f.keygate.authenticator.authenticate(token), code);
      await f.close();
    });
  }

  test('an expired key -> key_expired', async () => {
    const f = await fixture();
    const key = await f.keygate.keys.registerKey({
      orgId: f.orgId,
      publicKey: rsaPair(2048).publicPem,
      grantedByAdmin: true,
      expiresAt: NOW + 10,
    });
    f.now.value = NOW + 10;
    const token = signJwt(rsaHeader, f.claims({ kid: key.key_id }), f.pair.privateKey);
    await rejectsWith(f.keygate.authenticator.authenticate(token), 'key_expired');
    await f.close();
  });

  test('the spec-made RSA-4096 key verifies RS256 and RS384', async () => {
    const f = await fixture({
      pair: {
        privateKey: createPrivateKey(vector('keys/spec-rsa4096.key')),
        publicPem: vector('keys/spec-rsa4096.key.pub'),
      },
    });
    for (const alg of ['RS256', 'RS384']) {
      const principal = await f.keygate.authenticator.authenticate(f.token({}, { alg, typ: 'JWT' }));
      assert.equal(principal.kid, f.kid);
    }
    await f.close();
  });
});

function tokenKid(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      kid?: string;
    };
    return payload.kid;
  } catch {
    return undefined;
  }
}
