import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import type { KeyOwner } from '../../src/core/key-owner.ts';
import { verifyKeyPairToken } from '../../src/core/key-pair-token.ts';
import type { KeyRecord } from '../../src/core/key-record.ts';
import {
  MAX_MESSAGE_BYTES,
  MAX_MESSAGE_JWS_LENGTH,
  type MessageJws,
  parseMessageJws,
} from '../../src/core/message-format.ts';
import type { ReasonCode } from '../../src/core/reason-codes.ts';
import { acceptedVerdict, refusedVerdict } from '../../src/core/signature-verdict.ts';
import { type MessageEnv, messageKidToLookUp, verifySignedMessage } from '../../src/core/signed-message.ts';
import { parseCompactJws } from '../../src/core/token-format.ts';
import type { ResolvedKey } from '../../src/core/verifying-key.ts';
import { AUD, NOW, POLICY, resolvedKey } from '../helpers.ts';
import { signMessageRaw as signMessage } from '../message-helpers.ts';

/** Signed messages on their own: the parser, the check table and the answer, with no store. */

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = '11111111-2222-4333-8444-555555555555';
const ORG = '99999999-8888-4777-8666-555555555555';
const USER = '77777777-6666-4555-8444-333333333333';

function resolved(publicKey: KeyObject, overrides: Partial<KeyRecord> = {}): ResolvedKey {
  return resolvedKey(publicKey, { id: KID, orgId: ORG, roles: ['user'], ...overrides });
}

const EC_KEY = resolved(ec.publicKey);
const OWNER: KeyOwner = { id: USER, email: 'ali@example.com', status: 'active', role: 'user' };
const MESSAGE = '{"op":"follow","target":"bob"}';
const HEADER = { alg: 'ES256', kid: KID, typ: 'JOSE' };

function parsed(jws: string, payload?: string): MessageJws {
  const result = parseMessageJws(jws, payload);
  assert.ok(result.ok, result.ok ? '' : result.rejection.message);
  return result.jws;
}

/** The reason code (or "valid") of a message, signed by the EC key unless `privateKey` says otherwise. */
function verdictOf(jws: string, env: Partial<MessageEnv> = {}, payload?: string): ReasonCode | 'valid' {
  const result = parseMessageJws(jws, payload);
  if (!result.ok) return result.rejection.code;
  const checked = verifySignedMessage(result.jws, { key: EC_KEY, now: NOW, ...env });
  return checked.ok ? 'valid' : checked.rejection.code;
}

function malformed(jws: string, payload?: string): string {
  const result = parseMessageJws(jws, payload);
  assert.ok(!result.ok, 'expected a refusal');
  assert.equal(result.rejection.code, 'token_malformed');
  return result.rejection.message;
}

describe('parseMessageJws', () => {
  test('reads an attached message: its text, and the signing input exactly as sent', () => {
    const jws = signMessage(HEADER, MESSAGE, ec.privateKey);
    const message = parsed(jws);
    assert.deepEqual(
      { ...message, signature: message.signature.length },
      {
        header: HEADER,
        payload: MESSAGE,
        detached: false,
        signature: 64,
        signingInput: jws.slice(0, jws.lastIndexOf('.')),
      },
    );
  });

  test('reads a detached message (RFC 7515 appendix F): the signing input is rebuilt from the payload sent beside', () => {
    const jws = signMessage(HEADER, 'héllo ✓', ec.privateKey, { detached: true });
    const [header, , signature] = jws.split('.');
    assert.equal(jws, `${header}..${signature}`);
    const message = parsed(jws, 'héllo ✓');
    assert.equal(message.detached, true);
    assert.equal(message.payload, 'héllo ✓');
    assert.equal(message.signingInput, `${header}.${Buffer.from('héllo ✓').toString('base64url')}`);
    assert.equal(parsed(signMessage(HEADER, '', ec.privateKey), '').signingInput, `${header}.`);
  });

  test('refuses a payload sent twice, or not at all, saying which field to change', () => {
    const attached = signMessage(HEADER, MESSAGE, ec.privateKey);
    const detached = signMessage(HEADER, MESSAGE, ec.privateKey, { detached: true });
    // The header decoded, so the answer can still echo the kid that was sent.
    assert.deepEqual(parseMessageJws(detached), {
      ok: false,
      rejection: {
        code: 'token_malformed',
        message: 'The "jws" is detached (nothing between its two dots), and no "payload" was sent beside it.',
        hint: 'Send the signed message in "payload" (an empty message as ""), or sign it attached.',
      },
      header: HEADER,
    });
    assert.equal(
      malformed(attached, MESSAGE),
      'The "jws" carries its payload, and a "payload" was sent beside it too.',
    );
    assert.equal(
      malformed(detached),
      'The "jws" is detached (nothing between its two dots), and no "payload" was sent beside it.',
    );
  });

  test('refuses what is not one compact JWS of UTF-8 text, each with its reason', () => {
    const good = signMessage(HEADER, MESSAGE, ec.privateKey);
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const cases: [string, string | undefined, string][] = [
      ['{"payload":"x"}', undefined, 'The "jws" is a JWS in JSON serialization.'],
      [`${header}.${payload}`, undefined, 'The "jws" has 2 segments; a compact JWS has exactly 3.'],
      [`${good}.x`, undefined, 'The "jws" has 4 segments; a compact JWS has exactly 3.'],
      ['a.b.c.d.e', undefined, 'The "jws" has 5 segments: it is an encrypted JWE, not a signed message.'],
      [
        `${header}.${payload}=.${signature}`,
        undefined,
        'The payload segment is not canonical base64url (no padding, no "+" or "/", no whitespace).',
      ],
      [
        `${header}.${Buffer.from([0x66, 0xff]).toString('base64url')}.${signature}`,
        undefined,
        'The payload is not UTF-8 text.',
      ],
      [
        `${header}..${signature}`,
        'a\ud800b',
        'The "payload" is not well-formed Unicode: it holds a lone surrogate escape such as "\\ud800".',
      ],
      [`.${payload}.${signature}`, undefined, 'The header segment is empty.'],
      [
        `${Buffer.from('[1]').toString('base64url')}.${payload}.${signature}`,
        undefined,
        'The header must be a JSON object, not an array.',
      ],
      [
        `${header}.${payload}.${signature}=`,
        undefined,
        'The signature segment is not canonical base64url (no padding, no "+" or "/", no whitespace).',
      ],
    ];
    for (const [jws, beside, message] of cases) assert.equal(malformed(jws, beside), message, jws);
  });

  test(`caps the message at ${MAX_MESSAGE_BYTES} bytes, attached or detached, and the JWS at ${MAX_MESSAGE_JWS_LENGTH} characters`, () => {
    const largest = 'x'.repeat(MAX_MESSAGE_BYTES);
    assert.equal(parsed(signMessage(HEADER, largest, ec.privateKey)).payload, largest);
    assert.equal(
      parsed(signMessage(HEADER, largest, ec.privateKey, { detached: true }), largest).payload,
      largest,
    );
    const over = `${largest}x`;
    const tooLarge = `The message is ${MAX_MESSAGE_BYTES + 1} bytes; at most ${MAX_MESSAGE_BYTES} are accepted.`;
    assert.equal(malformed(signMessage(HEADER, over, ec.privateKey)), tooLarge);
    assert.equal(malformed(signMessage(HEADER, over, ec.privateKey, { detached: true }), over), tooLarge);
    // Counted in UTF-8 bytes, not characters: 16 Ki "é" are 32 KiB, one more is over.
    const accents = 'é'.repeat(MAX_MESSAGE_BYTES / 2 + 1);
    assert.equal(
      malformed(signMessage(HEADER, accents, ec.privateKey, { detached: true }), accents),
      tooLarge.replace(String(MAX_MESSAGE_BYTES + 1), String(MAX_MESSAGE_BYTES + 2)),
    );
    assert.equal(
      malformed('a'.repeat(MAX_MESSAGE_JWS_LENGTH + 1)),
      `The "jws" is ${MAX_MESSAGE_JWS_LENGTH + 1} characters; at most ${MAX_MESSAGE_JWS_LENGTH} are accepted.`,
    );
  });
});

describe('the checks of a signed message', () => {
  const ok = (header = HEADER) => signMessage(header, MESSAGE, ec.privateKey);

  test('a message signed by a usable key verifies, attached or detached, typed JOSE, JWT or not at all', () => {
    assert.equal(verdictOf(ok()), 'valid');
    assert.equal(
      verdictOf(signMessage(HEADER, MESSAGE, ec.privateKey, { detached: true }), {}, MESSAGE),
      'valid',
    );
    for (const typ of ['JOSE', 'jose', 'application/jose', 'JWT', undefined]) {
      assert.equal(
        verdictOf(ok({ alg: 'ES256', kid: KID, ...(typ && { typ }) } as typeof HEADER)),
        'valid',
        typ,
      );
    }
    const rsaKey = resolved(rsa.publicKey);
    for (const alg of ['RS256', 'RS384']) {
      const jws = signMessage({ alg, kid: KID }, MESSAGE, rsa.privateKey);
      assert.equal(verdictOf(jws, { key: rsaKey }), 'valid', alg);
    }
  });

  test('every key rule of tokens applies, with the same reason codes', () => {
    const cases: [string, string, Partial<MessageEnv>, ReasonCode][] = [
      ['no key found for the kid', ok(), { key: undefined }, 'kid_unknown'],
      ['a key found under another kid', ok(), { key: resolved(ec.publicKey, { id: ORG }) }, 'kid_unknown'],
      ['a revoked key', ok(), { key: resolved(ec.publicKey, { status: 'revoked' }) }, 'key_revoked'],
      ['a disabled key', ok(), { key: resolved(ec.publicKey, { status: 'disabled' }) }, 'key_disabled'],
      ['an expired key', ok(), { key: resolved(ec.publicKey, { expiresAt: NOW }) }, 'key_expired'],
      [
        'a key rotated out, its grace over',
        ok(),
        { key: resolved(ec.publicKey, { revokesAt: NOW, replacedBy: ORG }) },
        'key_revoked',
      ],
      [
        'an RS256 header on a P-256 key',
        signMessage({ alg: 'RS256', kid: KID }, MESSAGE, rsa.privateKey),
        {},
        'alg_not_allowed',
      ],
      ['an ES256 header on an RSA key', ok(), { key: resolved(rsa.publicKey) }, 'alg_not_allowed'],
      ['alg none', signMessage({ alg: 'none', kid: KID }, MESSAGE, ec.privateKey), {}, 'alg_not_allowed'],
      ['alg HS256', signMessage({ alg: 'HS256', kid: KID }, MESSAGE, ec.privateKey), {}, 'alg_not_allowed'],
      [
        'alg PS256',
        signMessage({ alg: 'PS256', kid: KID }, MESSAGE, rsa.privateKey),
        { key: resolved(rsa.publicKey) },
        'alg_not_allowed',
      ],
      [
        'an embedded jwk',
        ok({ ...HEADER, jwk: ec.publicKey.export({ format: 'jwk' }) } as typeof HEADER),
        {},
        'token_malformed',
      ],
      ['a jku', ok({ ...HEADER, jku: 'https://evil.example/jwks' } as typeof HEADER), {}, 'token_malformed'],
      ['a crit', ok({ ...HEADER, crit: ['b64'] } as typeof HEADER), {}, 'token_malformed'],
      ['b64 false', ok({ ...HEADER, b64: false } as unknown as typeof HEADER), {}, 'token_malformed'],
      ['a session typ', ok({ ...HEADER, typ: 'keygate-session+jwt' }), {}, 'token_malformed'],
      ['no kid', ok({ alg: 'ES256' } as typeof HEADER), {}, 'kid_missing'],
      ['an empty kid', ok({ ...HEADER, kid: '' }), {}, 'kid_missing'],
      ['a numeric kid', ok({ ...HEADER, kid: 7 } as unknown as typeof HEADER), {}, 'token_malformed'],
      [
        'a DER ES256 signature',
        signMessage(HEADER, MESSAGE, ec.privateKey, { der: true }),
        {},
        'signature_invalid',
      ],
      [
        'a signature by another key',
        signMessage(HEADER, MESSAGE, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey),
        {},
        'signature_invalid',
      ],
      [
        'an owner who is disabled',
        ok(),
        { key: resolved(ec.publicKey, { ownerUserId: USER }), owner: { ...OWNER, status: 'disabled' } },
        'key_disabled',
      ],
      ['an owner who is gone', ok(), { key: resolved(ec.publicKey, { ownerUserId: USER }) }, 'key_disabled'],
      [
        'an owner who is someone else',
        ok(),
        { key: resolved(ec.publicKey, { ownerUserId: USER }), owner: { ...OWNER, id: ORG } },
        'key_disabled',
      ],
    ];
    for (const [name, jws, env, code] of cases) assert.equal(verdictOf(jws, env), code, name);
  });

  test('a key in its rotation grace and one before its expiry still sign', () => {
    assert.equal(
      verdictOf(ok(), { key: resolved(ec.publicKey, { revokesAt: NOW + 1, replacedBy: ORG }) }),
      'valid',
    );
    assert.equal(verdictOf(ok(), { key: resolved(ec.publicKey, { expiresAt: NOW + 1 }) }), 'valid');
  });

  test('a changed byte anywhere is signature_invalid: payload, header, or the payload sent beside', () => {
    const jws = ok();
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const otherPayload = Buffer.from('{"op":"follow","target":"eve"}').toString('base64url');
    // Still a header every check before the signature accepts: only the signature can tell.
    const otherHeader = Buffer.from(JSON.stringify({ ...HEADER, typ: 'JWT' })).toString('base64url');
    assert.equal(verdictOf(`${header}.${otherPayload}.${signature}`), 'signature_invalid');
    assert.equal(verdictOf(`${otherHeader}.${payload}.${signature}`), 'signature_invalid');
    assert.equal(verdictOf(`${header}..${signature}`, {}, MESSAGE), 'valid');
    assert.equal(verdictOf(`${header}..${signature}`, {}, `${MESSAGE} `), 'signature_invalid');
    assert.equal(verdictOf(`${header}..${signature}`, {}, ''), 'signature_invalid');
  });

  test('the owner is judged only once the signature verified', () => {
    const key = resolved(ec.publicKey, { ownerUserId: USER });
    const disabled = { ...OWNER, status: 'disabled' as const };
    const forged = signMessage(
      HEADER,
      MESSAGE,
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    );
    assert.equal(verdictOf(forged, { key, owner: disabled }), 'signature_invalid');
    const checked = verifySignedMessage(parsed(ok()), { key, owner: disabled, now: NOW });
    assert.ok(!checked.ok);
    assert.deepEqual(checked.rejection, {
      code: 'key_disabled',
      message:
        'The key belongs to ali@example.com, whose account is disabled; their keys sign nothing until it is enabled.',
      hint: 'Ask an administrator of your organization to enable the account, or sign with another key.',
      actual: 'owner disabled',
    });
  });

  test('a message typed JOSE can never pass as a key-pair token, even when its payload is a set of claims', () => {
    const claims = { iss: ORG, sub: 'alice', jti: 'j-1', aud: AUD, iat: NOW, exp: NOW + 600, kid: KID };
    const jws = signMessage(HEADER, JSON.stringify(claims), ec.privateKey);
    assert.equal(verdictOf(jws), 'valid');
    const token = parseCompactJws(jws);
    assert.ok(token.ok);
    const asToken = verifyKeyPairToken(token.jws, { key: EC_KEY, policy: POLICY, now: NOW });
    assert.ok(!asToken.ok);
    assert.equal(asToken.rejection.code, 'token_malformed');
    assert.equal(
      asToken.rejection.message,
      'The header "typ" is "JOSE"; a key-pair token is typed "JWT" or untyped.',
    );
  });

  test('a key is looked up only for a header whose every check will pass', () => {
    assert.equal(messageKidToLookUp(HEADER), KID);
    assert.equal(messageKidToLookUp({ alg: 'none', kid: KID }), undefined);
    assert.equal(messageKidToLookUp({ ...HEADER, jwk: {} }), undefined);
    assert.equal(messageKidToLookUp({ alg: 'ES256' }), undefined);
    assert.equal(messageKidToLookUp({ alg: 'ES256', kid: 7 }), undefined);
  });
});

describe('the answer', () => {
  test('tells who signed and what, once the signature verified', () => {
    const checked = verifySignedMessage(parsed(signMessage(HEADER, MESSAGE, ec.privateKey)), {
      key: resolved(ec.publicKey, { ownerUserId: USER }),
      owner: OWNER,
      now: NOW,
    });
    assert.ok(checked.ok);
    assert.deepEqual(acceptedVerdict(checked.message), {
      valid: true,
      org_id: ORG,
      key_id: KID,
      owner: { type: 'user', id: USER, email: 'ali@example.com' },
      alg: 'ES256',
      payload: MESSAGE,
    });
    const byOrg = verifySignedMessage(parsed(signMessage(HEADER, MESSAGE, ec.privateKey)), {
      key: EC_KEY,
      now: NOW,
    });
    assert.ok(byOrg.ok);
    assert.deepEqual(acceptedVerdict(byOrg.message).owner, { type: 'org', id: ORG });
  });

  test('a refusal gives the reason and the kid as sent, cut to 80 characters, and nothing of the key or the message', () => {
    const rejection = { code: 'signature_invalid' as const, message: 'm', hint: 'h' };
    assert.deepEqual(refusedVerdict(rejection, HEADER), {
      valid: false,
      code: 'signature_invalid',
      message: 'm',
      hint: 'h',
      org_id: null,
      key_id: KID,
      owner: null,
      alg: null,
      payload: null,
    });
    assert.equal(refusedVerdict(rejection, undefined).key_id, null);
    assert.equal(refusedVerdict(rejection, { kid: 7 }).key_id, null);
    assert.equal(refusedVerdict(rejection, { kid: 'k'.repeat(500) }).key_id, 'k'.repeat(80));
    // Cut between characters, never inside a surrogate pair.
    assert.equal(refusedVerdict(rejection, { kid: '😀'.repeat(100) }).key_id, '😀'.repeat(80));
  });
});
