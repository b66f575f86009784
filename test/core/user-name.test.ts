import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { normalizeUserName } from '../../src/core/user-name.ts';

test('names people read as the same normalise to one form', () => {
  const same: [string, string][] = [
    ['jos\u00e9@example.com', 'jose\u0301@example.com'], // NFC and NFD
    ['\uff4bate@example.com', 'kate@example.com'], // fullwidth k
    ['\uff2b\uff21\uff34\uff25@example.com', 'kate@example.com'], // fullwidth capitals
    ['\u212aate@example.com', 'kate@example.com'], // Kelvin sign
    ['Ali@Example.COM', 'ali@example.com'],
    ['JOS\u00c9@example.com', 'jos\u00e9@example.com'],
    ['\ufb01nn@example.com', 'finn@example.com'], // the fi ligature
    ['\u3000ali@example.com\u3000', 'ali@example.com'], // ideographic spaces around
    ['\u039f\u0394\u039f\u03a3@example.com', '\u03bf\u03b4\u03bf\u03c2@example.com'], // final sigma, as Greek writes it
  ];
  for (const [a, b] of same) {
    assert.equal(normalizeUserName(a), normalizeUserName(b), `${a} and ${b}`);
  }
  assert.equal(normalizeUserName('jose\u0301@example.com'), 'jos\u00e9@example.com', 'stored composed (NFC)');
});

test('names that differ stay different', () => {
  const different: [string, string][] = [
    ['kate@example.com', 'kat@example.com'],
    ['stra\u00dfe@example.com', 'strasse@example.com'], // lower-casing is not full case folding
    ['jose@example.com', 'jos\u00e9@example.com'], // an accent is a letter of its own
  ];
  for (const [a, b] of different) {
    assert.notEqual(normalizeUserName(a), normalizeUserName(b), `${a} and ${b}`);
  }
});

test('normalising is stable: a stored name normalises to itself, for every code point', () => {
  const unstable: string[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const once = normalizeUserName(`a${String.fromCodePoint(cp)}b`);
    if (normalizeUserName(once) !== once) unstable.push(cp.toString(16));
  }
  assert.deepEqual(unstable, []);
});

test('normalising is stable on any string', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 40 }), (a, b) => {
      const once = normalizeUserName(a + b);
      assert.equal(normalizeUserName(once), once);
    }),
    { numRuns: 2000 },
  );
});
