import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeForTerminal, terminalSafe } from '../../src/cli/output.ts';

test('every control and bidi override is escaped; other text is left as it is', () => {
  const cases: [string, string][] = [
    ['\u001b]0;pwned\u0007\u001b[2J', '\\x1b]0;pwned\\x07\\x1b[2J'],
    ['a\nb\rc\td\u0000', 'a\\x0ab\\x0dc\\x09d\\x00'],
    ['\u007f\u0080\u009b\u009f', '\\x7f\\x80\\x9b\\x9f'],
    ['\u202a\u202b\u202c\u202d\u202e', '\\u202a\\u202b\\u202c\\u202d\\u202e'],
    ['\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
    ['caf\u00e9 \u00a0\u{1F511} \u05d0\u05d1 \\x1b', 'caf\u00e9 \u00a0\u{1F511} \u05d0\u05d1 \\x1b'],
  ];
  for (const [text, shown] of cases) assert.equal(escapeForTerminal(text), shown, JSON.stringify(text));
  assert.equal(escapeForTerminal('line one\nline\u001b two\n', '\n'), 'line one\nline\\x1b two\n');
});

test('terminalSafe escapes every string of a value, member names included, and keeps the rest', () => {
  assert.deepEqual(
    terminalSafe({
      valid: true,
      skew: -3,
      none: null,
      principal: { sub: 'a\nb', '\u001bkey': 'x' },
      checks: [{ message: '\u202eevil', ok: false }],
    }),
    {
      valid: true,
      skew: -3,
      none: null,
      principal: { sub: 'a\\x0ab', '\\x1bkey': 'x' },
      checks: [{ message: '\\u202eevil', ok: false }],
    },
  );
});
