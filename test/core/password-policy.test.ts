import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  checkNewPassword,
  MIN_PASSWORD_LENGTH,
  normalizeForList,
  parseCommonPasswords,
  passwordLength,
} from '../../src/core/password-policy.ts';

const shipped = readFileSync(new URL('../../src/core/common-passwords.txt', import.meta.url), 'utf8');
const COMMON = parseCommonPasswords(shipped);

const TOO_SHORT = {
  code: 'invalid_input',
  field: 'password',
  message: 'The password is shorter than 12 characters.',
  hint: 'Choose one of 12 characters or more: a passphrase of four unrelated words is long and easy to remember, or let a password manager make one.',
};
const LISTED = {
  code: 'invalid_input',
  field: 'password',
  message: 'The password is on the list of common passwords, which attackers try first.',
  hint: 'Choose one nobody else would: a passphrase of four unrelated words, or one a password manager makes. Adding digits or "!" to a common password does not help.',
};

describe('the length floor', () => {
  test('11 characters are refused, 12 accepted', () => {
    assert.deepEqual(checkNewPassword('Tulip-Ocean', COMMON), TOO_SHORT);
    assert.equal(checkNewPassword('Tulip-Ocean7', COMMON), undefined);
  });

  test('characters are code points after NFC, not UTF-16 units or combining marks', () => {
    // "é" typed as e + U+0301 is one character; an emoji is one, though .length says two.
    for (const [password, length] of [
      ['cafe\u0301', 4],
      ['caf\u00e9', 4],
      ['\u{1F511}'.repeat(3), 3],
      ['', 0],
    ] as const)
      assert.equal(passwordLength(password), length, JSON.stringify(password));
    assert.deepEqual(checkNewPassword('e\u0301'.repeat(11), COMMON), TOO_SHORT);
    assert.deepEqual(checkNewPassword('\u{1F511}'.repeat(11), COMMON), TOO_SHORT);
    assert.equal(checkNewPassword('e\u0301'.repeat(12), COMMON), undefined);
    assert.equal(checkNewPassword('\u{1F511}'.repeat(12), COMMON), undefined);
  });
});

describe('the list of common passwords', () => {
  test('a listed password is refused in any case, and as full-width look-alikes', () => {
    for (const password of [
      'password1234',
      'Password1234',
      'PASSWORD1234',
      'QwertyUiop12',
      '123456789012',
      'ILoveYou1234',
      '\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12\uff13\uff14',
    ])
      assert.deepEqual(checkNewPassword(password, COMMON), LISTED, password);
  });

  test('the refusal never contains the password', () => {
    for (const password of ['Zq9-tiny', 'password1234', 'Tulip-Ocean']) {
      const refusal = checkNewPassword(password, COMMON);
      assert.ok(refusal, password);
      assert.ok(!JSON.stringify(refusal).toLowerCase().includes(password.toLowerCase()), password);
    }
  });

  test('the shipped file: thousands of normalized entries, each long enough to need the list', () => {
    const lines = shipped.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.ok(lines.length > 5000, `${lines.length} entries`);
    assert.deepEqual(lines, [...new Set(lines)].sort(), 'sorted, no duplicates');
    for (const line of lines) {
      assert.equal(normalizeForList(line), line);
      assert.ok(passwordLength(line) >= MIN_PASSWORD_LENGTH, line);
    }
    for (const entry of ['qwertyuiop12', 'aaaaaaaaaaaa', 'qwertyqwerty', 'football2020', '1qaz2wsx3edc'])
      assert.ok(COMMON.has(entry), entry);
  });
});
