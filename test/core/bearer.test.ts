import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readBearerToken } from '../../src/core/bearer.ts';

const token = 'aaa.bbb.ccc';

test('accepts Bearer in any case with one space, and the bare token', () => {
  for (const value of [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, token, ` ${token} `]) {
    assert.deepEqual(readBearerToken([value]), { token }, value);
  }
});

test('refuses missing, repeated and odd Authorization values with the right code', () => {
  const cases: [string[], string][] = [
    [[], 'token_missing'],
    [[''], 'token_missing'],
    [['Bearer '], 'token_missing'],
    [[token, token], 'token_malformed'],
    [[`Basic ${token}`], 'token_malformed'],
    [[`Bearer  ${token}`], 'token_malformed'],
    [[`Bearer ${token} x`], 'token_malformed'],
  ];
  for (const [values, code] of cases) {
    const read = readBearerToken(values);
    assert.ok('rejection' in read, JSON.stringify(values));
    assert.equal(read.rejection.code, code, JSON.stringify(values));
  }
});
