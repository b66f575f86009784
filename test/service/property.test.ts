import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { isReasonCode } from '../../src/core/reason-codes.ts';
import { AuthError } from '../../src/service/auth-error.ts';
import { b64, type Fixture, fixture, signRaw } from '../helpers.ts';

let f: Fixture;
before(async () => {
  f = await fixture();
});
after(() => f.close());

/** Either a principal, or an AuthError carrying a reason code: nothing else may come out. */
async function outcome(token: string): Promise<'accepted' | string> {
  try {
    await f.keygate.authenticator.authenticate(token);
    return 'accepted';
  } catch (error) {
    assert.ok(error instanceof AuthError, `not an AuthError: ${String(error)}`);
    assert.ok(isReasonCode(error.rejection.code));
    return error.rejection.code;
  }
}

async function explainCode(token: string): Promise<string | undefined> {
  const report = await f.keygate.authenticator.explain(token);
  assert.equal(report.checks.length, 19, 'every key-pair check is reported');
  return report.code;
}

test('no string crashes the verifier or yields anything but a reason code', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })),
      async (text) => {
        const code = await outcome(text);
        assert.notEqual(code, 'accepted');
        assert.equal(await explainCode(text), code);
      },
    ),
    { numRuns: 400 },
  );
});

test('no byte string in any segment crashes the verifier', async () => {
  const segment = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('base64url'));
  await fc.assert(
    fc.asyncProperty(segment, segment, segment, async (h, p, s) => {
      assert.notEqual(await outcome(`${h}.${p}.${s}`), 'accepted');
    }),
    { numRuns: 400 },
  );
});

test('any JSON in a correctly signed token is accepted or rejected with a reason code', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.jsonValue({ maxDepth: 3 }),
      fc.jsonValue({ maxDepth: 3 }),
      async (header, payload) => {
        const token = signRaw(b64(JSON.stringify(header)), b64(JSON.stringify(payload)), f.pair.privateKey);
        assert.notEqual(await outcome(token), 'accepted');
      },
    ),
    { numRuns: 300 },
  );
});

test('changing any one character of a valid token never yields acceptance', async () => {
  const token = f.token();
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: token.length - 1 }),
      fc.string({ minLength: 1, maxLength: 1 }),
      async (at, char) => {
        fc.pre(token[at] !== char);
        const mutated = token.slice(0, at) + char + token.slice(at + 1);
        f.keygate.authenticator.cache.clear();
        assert.notEqual(await outcome(mutated), 'accepted');
      },
    ),
    { numRuns: 300 },
  );
});

/** Strings with at least one lone surrogate: a half of a pair with its other half missing. */
const illFormed = fc
  .tuple(
    fc.string({ maxLength: 20 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
    fc.string({ maxLength: 20 }),
  )
  .map(([before, lone, rest]) => before + lone + rest)
  .filter((text) => !text.isWellFormed());

test('a lone surrogate anywhere in the claims is claim_invalid, in the header token_malformed', async () => {
  const claimNames = ['sub', 'jti', 'iss', 'aud', 'role', 'kid', 'note'];
  await fc.assert(
    fc.asyncProperty(illFormed, fc.constantFrom(...claimNames), fc.boolean(), async (text, name, asName) => {
      const claims = asName ? { ...f.claims(), [text]: 1 } : f.claims({ [name]: text });
      assert.equal(await outcome(f.token(claims)), 'claim_invalid');
    }),
    { numRuns: 200 },
  );
  await fc.assert(
    fc.asyncProperty(
      illFormed,
      fc.constantFrom('kid', 'typ', 'name'),
      fc.boolean(),
      async (text, name, asName) => {
        const header = asName ? { alg: 'RS256', [text]: 'x' } : { alg: 'RS256', [name]: text };
        assert.equal(await outcome(f.token({}, header)), 'token_malformed');
      },
    ),
    { numRuns: 200 },
  );
});

test('nbf: accepted up to now + leeway, token_not_yet_valid after, claim_invalid when not a NumericDate', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: -7200, max: 7200 }), async (offset) => {
      const expected = offset <= 60 ? 'accepted' : 'token_not_yet_valid';
      f.keygate.authenticator.cache.clear();
      assert.equal(await outcome(f.token({ nbf: f.now.value + offset })), expected);
    }),
    { numRuns: 200 },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.double({ noInteger: true }),
        fc.string(),
        fc.boolean(),
        fc.constant(null),
        fc.integer({ max: -1 }),
      ),
      async (nbf) => {
        assert.equal(await outcome(f.token({ nbf })), 'claim_invalid');
      },
    ),
    { numRuns: 200 },
  );
});
