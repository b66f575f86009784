import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetryable, isUnavailable, violatedUnique } from '../../src/store/postgres-errors.ts';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('the database failing is an outage; a wrong statement is not', () => {
  const outages: [string, Error][] = [
    ['connection refused', coded('ECONNREFUSED')],
    ['connection reset', coded('ECONNRESET')],
    ['no such host', coded('ENOTFOUND')],
    ['every address refused', new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], 'x')],
    ['server shutting down', coded('57P01')],
    ['server starting', coded('57P03')],
    ['too many connections', coded('53300')],
    ['disk full', coded('53100')],
    ['connection failure', coded('08006')],
    ['I/O error', coded('58030')],
    ['corrupt data', coded('XX001')],
    ['lock wait over', coded('55P03')],
    ['read-only server', coded('25006')],
    ['deadlock, retries spent', coded('40P01')],
    ['password changed', coded('28P01')],
    ['database dropped', coded('3D000')],
    ['server went away', new Error('Connection terminated unexpectedly')],
    ['pool wait over', new Error('timeout exceeded when trying to connect')],
    ['store closed', new Error('Cannot use a pool after calling end on the pool')],
  ];
  for (const [what, error] of outages) assert.equal(isUnavailable(error), true, what);
  const bugs: [string, unknown][] = [
    ['syntax error', coded('42601')],
    ['no such table', coded('42P01')],
    ['unique violation', coded('23505')],
    ['foreign key violation', coded('23503')],
    ['check violation', coded('23514')],
    ['bad number', coded('22P02')],
    ['a TypeError', new TypeError('x is not a function')],
    ['a mixed aggregate', new AggregateError([coded('ECONNREFUSED'), new TypeError('x')], 'x')],
    ['not an error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ];
  for (const [what, error] of bugs) assert.equal(isUnavailable(error), false, what);
});

test('only lost serialization and deadlock races are run again', () => {
  assert.deepEqual(
    ['40001', '40P01', '55P03', '23505', '08006'].map((code) => isRetryable(coded(code))),
    [true, true, false, false, false],
  );
  assert.equal(isRetryable(undefined), false);
});

test('a unique violation names its constraint', () => {
  assert.equal(
    violatedUnique(Object.assign(coded('23505'), { constraint: 'users_email_unique' })),
    'users_email_unique',
  );
  assert.equal(violatedUnique(Object.assign(coded('23503'), { constraint: 'keys_org_id_fkey' })), undefined);
  assert.equal(violatedUnique(new Error('x')), undefined);
});
