import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Type as TypeBox } from '@sinclair/typebox';
import { Type } from '../../src/http/schema.ts';

// src/http/schema.ts stands in for TypeBox's builders at run time: each must make exactly the
// schema TypeBox makes, symbol keys included (deepStrictEqual compares them).

const S = Type.String();
const T = TypeBox.String();
const options = { description: 'd', maxLength: 9 };

const cases: [string, unknown, unknown][] = [
  ['String', Type.String(), TypeBox.String()],
  ['String with options', Type.String(options), TypeBox.String(options)],
  ['Integer', Type.Integer({ minimum: 1 }), TypeBox.Integer({ minimum: 1 })],
  ['Boolean', Type.Boolean(), TypeBox.Boolean()],
  ['Null', Type.Null(), TypeBox.Null()],
  ['Unknown', Type.Unknown(), TypeBox.Unknown()],
  ['Literal string', Type.Literal('org'), TypeBox.Literal('org')],
  ['Literal number', Type.Literal(3, options), TypeBox.Literal(3, options)],
  ['Literal boolean', Type.Literal(true), TypeBox.Literal(true)],
  ['Array', Type.Array(S, { maxItems: 8 }), TypeBox.Array(T, { maxItems: 8 })],
  ['Optional', Type.Optional(Type.String(options)), TypeBox.Optional(TypeBox.String(options))],
  [
    'Object with required and optional properties',
    Type.Object({ a: S, b: Type.Optional(S) }, { additionalProperties: false }),
    TypeBox.Object({ a: T, b: TypeBox.Optional(T) }, { additionalProperties: false }),
  ],
  [
    'Object with no required property',
    Type.Object({ b: Type.Optional(S) }),
    TypeBox.Object({ b: TypeBox.Optional(T) }),
  ],
  ['empty Object', Type.Object({}), TypeBox.Object({})],
  ['Union of none', Type.Union([]), TypeBox.Union([])],
  ['Union of one', Type.Union([Type.Literal('a')], options), TypeBox.Union([TypeBox.Literal('a')], options)],
  ['Union', Type.Union([S, Type.Null()]), TypeBox.Union([T, TypeBox.Null()])],
  ['Record', Type.Record(S, Type.Unknown()), TypeBox.Record(T, TypeBox.Unknown())],
  [
    'Record with a key pattern',
    Type.Record(Type.String({ pattern: '^x' }), S, options),
    TypeBox.Record(TypeBox.String({ pattern: '^x' }), T, options),
  ],
  [
    'Unsafe',
    Type.Unsafe<string>({ type: 'string', enum: ['a', 'b'] }),
    TypeBox.Unsafe<string>({ type: 'string', enum: ['a', 'b'] }),
  ],
  ['Unsafe without options', Type.Unsafe(), TypeBox.Unsafe()],
];

for (const [name, ours, theirs] of cases) {
  test(`${name}: the schema TypeBox makes`, () => {
    assert.deepStrictEqual(ours, theirs);
  });
}

test('a Record key other than a string is refused rather than described wrongly', () => {
  assert.throws(() => Type.Record(Type.Integer() as never, S), /only a Type.String\(\) key/);
});

test('no module of src/ loads TypeBox at run time: it is imported for its types only', () => {
  const src = fileURLToPath(new URL('../../src/', import.meta.url));
  const loading = readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .filter((path) =>
      /^(import|export) (?!type )[^;]*'@sinclair\/typebox[^']*';/m.test(
        readFileSync(join(src, path), 'utf8'),
      ),
    );
  assert.deepEqual(loading, []);
});
