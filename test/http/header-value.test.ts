import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { headerValue } from '../../src/http/header-value.ts';

const SAFE = /^[\x21-\x7e]*$/;

test('any well-formed string becomes visible ASCII that decodes back to it exactly', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', maxLength: 64 }),
      fc.string({ unit: 'binary', maxLength: 64 }),
      (a, b) => {
        for (const value of [a, b, `${a}\r\n${b}`]) {
          const sent = headerValue(value);
          assert.match(sent, SAFE);
          assert.equal(decodeURIComponent(sent), value);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('visible ASCII other than "%" is sent unchanged; "%", spaces and the rest are encoded', () => {
  const cases: [string, string][] = [
    ['9a0c1e2f-0000-4000-8000-000000000001', '9a0c1e2f-0000-4000-8000-000000000001'],
    ['user:alice@example.com/x?y=1;z', 'user:alice@example.com/x?y=1;z'],
    ['', ''],
    ['%', '%25'],
    [' ', '%20'],
    ['\r\n', '%0D%0A'],
    ['\u00e9', '%C3%A9'],
    ['\u{1f600}', '%F0%9F%98%80'],
  ];
  for (const [value, sent] of cases) assert.equal(headerValue(value), sent, JSON.stringify(value));
});

test('a lone surrogate (which the token checks refuse before) is sent as U+FFFD, never thrown on', () => {
  assert.equal(headerValue('a\ud800b'), 'a%EF%BF%BDb');
});
