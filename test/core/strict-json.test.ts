import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeBase64url } from '../../src/core/base64url.ts';
import { JsonError, parseStrictJson } from '../../src/core/strict-json.ts';

const parse = (text: string) => parseStrictJson(Buffer.from(text));

test('parses what JSON.parse parses, for well-formed objects', () => {
  for (const text of [
    '{}',
    '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
    ' { "x" : -1.5e3 } ',
    '{"s":"\\u00e9\\n\\"q\\""}',
    '[]',
    '"x"',
    '0',
  ]) {
    assert.deepEqual(parse(text), JSON.parse(text), text);
  }
});

test('refuses duplicate members, __proto__, deep nesting and bad syntax, saying why', () => {
  const bad: [string, RegExp][] = [
    ['{"a":1,"a":2}', /member "a" twice/],
    ['{"a":{"b":1,"b":1}}', /twice/],
    ['{"__proto__":{}}', /__proto__/],
    [`${'['.repeat(40)}${']'.repeat(40)}`, /nested too deeply/],
    ['{"a":1}x', /trailing/],
    ['{"a":01}', /trailing|expected/],
    ['{"a":1,}', /member name/],
    ["{'a':1}", /member name/],
    ['{"a":"\t"}', /control character/],
    ['{"a":"\\x"}', /invalid escape/],
    ['{"a":NaN}', /unexpected character/],
    ['{"a":Infinity}', /unexpected character/],
    ['{"a" 1}', /expected :/],
    ['{"a":"unterminated}', /unterminated/],
    ['', /unexpected character/],
  ];
  for (const [text, message] of bad) {
    assert.throws(
      () => parse(text),
      (error: unknown) => error instanceof JsonError && message.test(error.message),
      text,
    );
  }
});

test('reads the names tokens carry like any other name, near misses and escapes included', () => {
  const text = '{"audience":1,"aud":"x","au":2,"kidx":3,"k":4,"role":[5],"rol":6,"\\u0073ub":"s","typ":null}';
  assert.deepEqual(parse(text), JSON.parse(text));
  for (const twice of ['{"aud":1,"aud":2}', '{"aud":1,"\\u0061ud":2}', '{"\\u0061ud":1,"aud":2}']) {
    assert.throws(() => parse(twice), /member "aud" twice/, twice);
  }
});

test('reads numbers exactly as JSON.parse does, and refuses what it refuses', () => {
  const numbers = ['0', '-0', '7', '-12', '1.5', '-0.25', '1e5', '1E+5', '2e-3', '-0.0e0', '1796365064'];
  // Integers of up to 15 digits are summed digit by digit; longer ones are converted.
  // (Summed, the 18-digit one would come out 100 too low.)
  numbers.push('999999999999999', '-999999999999999', '9007199254740993', '730829410720078157');
  const notNumbers = ['01', '-01', '1.', '.5', '-', '+1', '1e', '1e+', '--1', '0x1', '1.e5', '1ee5', '-.5'];
  for (const text of [...numbers, ...notNumbers]) {
    const json = `{"n":${text},"m":[${text}]}`;
    let expected: unknown;
    try {
      expected = JSON.parse(json);
    } catch {
      assert.throws(() => parse(json), JsonError, json);
      continue;
    }
    assert.ok(numbers.includes(text), `${text} is listed as a number`);
    assert.deepEqual(parse(json), expected, json);
  }
});

test('reads every integer as JSON.parse does, whatever its length', () => {
  const digits = fc.stringMatching(/^-?(0|[1-9][0-9]{0,24})$/);
  fc.assert(
    fc.property(digits, (text) => Object.is(parse(text), JSON.parse(text))),
    { numRuns: 5_000 },
  );
});

test('refuses invalid UTF-8', () => {
  assert.throws(
    () => parseStrictJson(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d])),
    /UTF-8/,
  );
  assert.throws(() => parseStrictJson(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), /UTF-8/);
});

test('base64url: canonical only', () => {
  assert.deepEqual(decodeBase64url('eA'), Buffer.from('x'));
  assert.deepEqual(decodeBase64url(''), Buffer.alloc(0));
  for (const text of ['eA==', 'eB', 'e', 'e A', 'ab+/', 'ab\n', 'YQ=', 'eA\u00e9', 'YWJj\0'])
    assert.equal(decodeBase64url(text), undefined, text);
  // A character past Latin-1 whose low byte is a letter ("Ł" is U+0141, "A" is 0x41).
  assert.equal(decodeBase64url('\u0141AAA'), undefined);
});

test('base64url: accepts exactly the texts that read back unchanged, whatever they hold', () => {
  /** The definition: canonical base64url is what the encoder writes for the bytes it decodes to. */
  const readsBack = (text: string) => Buffer.from(text, 'base64url').toString('base64url') === text;
  const agrees = (text: string) => {
    const decoded = decodeBase64url(text);
    if (!readsBack(text)) return decoded === undefined;
    return decoded?.equals(Buffer.from(text, 'base64url')) === true;
  };
  const near = fc.constantFrom(...'AQgw_-9z+/= \t\n.*\u00e9\u00ff\u0100\u0141\u0000');
  fc.assert(
    fc.property(
      fc.array(near, { maxLength: 24 }).map((chars) => chars.join('')),
      agrees,
    ),
    {
      numRuns: 20_000,
    },
  );
  // Canonical texts, each with one character put in somewhere.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(60), near, (bytes, at, char) => {
      const text = Buffer.from(bytes).toString('base64url');
      return agrees(text) && agrees(text.slice(0, at) + char + text.slice(at));
    }),
    { numRuns: 20_000 },
  );
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 30 }), agrees), { numRuns: 20_000 });
});

test('a refusal records no stack (each malformed token makes one), and an ordinary error still does', () => {
  const refusal = (() => {
    try {
      parseStrictJson(Buffer.from('{"a":1,"a":2}'));
    } catch (error) {
      return error as JsonError;
    }
  })();
  assert.ok(refusal instanceof JsonError && refusal instanceof Error);
  assert.match(refusal.message, /twice/);
  assert.doesNotMatch(String(refusal.stack), /\n\s+at /);
  assert.match(String(new Error('a fault').stack), /\n\s+at /, 'the stack trace limit is put back');
});
