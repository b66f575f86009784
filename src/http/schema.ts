import type * as TypeBox from '@sinclair/typebox';

/**
 * The TypeBox builders the routes use, with TypeBox's own types and the very schemas TypeBox
 * makes (test/http/schema.test.ts compares them), in one small module. TypeBox's package is 266
 * ES modules, all loaded by its entry point: measured here, 50 ms of CPU at start and 3 MB of the
 * idle server, to build a few dozen plain objects. Only its types are used
 * (erased at run time); a builder it has and this lacks is added here the same way.
 */
type Builders = Pick<
  typeof TypeBox.Type,
  | 'Array'
  | 'Boolean'
  | 'Integer'
  | 'Literal'
  | 'Null'
  | 'Object'
  | 'Optional'
  | 'Record'
  | 'String'
  | 'Union'
  | 'Unknown'
  | 'Unsafe'
>;

type Schema = Record<PropertyKey, unknown>;

// TypeBox marks its schemas with these registered symbols; Fastify, ajv and @fastify/swagger
// ignore symbol keys, so the JSON is the same either way.
const Kind = Symbol.for('TypeBox.Kind');
const OptionalKind = Symbol.for('TypeBox.Optional');
const PATTERN_ANY_STRING = '^(.*)$';

/** TypeBox's CreateType in its default instance mode: the options, then the schema over them. */
const create = (schema: Schema, options?: object): Schema =>
  options === undefined ? schema : { ...options, ...schema };

const builders = {
  Array: (items: Schema, options?: object) => create({ [Kind]: 'Array', type: 'array', items }, options),
  Boolean: (options?: object) => create({ [Kind]: 'Boolean', type: 'boolean' }, options),
  Integer: (options?: object) => create({ [Kind]: 'Integer', type: 'integer' }, options),
  Literal: (value: string | number | boolean, options?: object) =>
    create({ [Kind]: 'Literal', const: value, type: typeof value }, options),
  Null: (options?: object) => create({ [Kind]: 'Null', type: 'null' }, options),
  Object: (properties: Record<string, Schema>, options?: object) => {
    const required = Object.keys(properties).filter((key) => properties[key]?.[OptionalKind] !== 'Optional');
    return create(
      required.length > 0
        ? { [Kind]: 'Object', type: 'object', required, properties }
        : { [Kind]: 'Object', type: 'object', properties },
      options,
    );
  },
  Optional: (schema: Schema) => create({ ...schema, [OptionalKind]: 'Optional' }),
  Record: (key: Schema, value: Schema, options: object = {}) => {
    if (key[Kind] !== 'String') throw new TypeError('schema.ts: Record takes only a Type.String() key.');
    const pattern = (key.pattern as string | undefined) ?? PATTERN_ANY_STRING;
    return create({ [Kind]: 'Record', type: 'object', patternProperties: { [pattern]: value } }, options);
  },
  String: (options?: object) => create({ [Kind]: 'String', type: 'string' }, options),
  Union: (types: Schema[], options?: object) =>
    types.length === 0
      ? create({ [Kind]: 'Never', not: {} }, options)
      : types.length === 1
        ? create(types[0] as Schema, options)
        : create({ [Kind]: 'Union', anyOf: types }, options),
  Unknown: (options?: object) => create({ [Kind]: 'Unknown' }, options),
  Unsafe: (options: Schema = {}) => create({ [Kind]: options[Kind] ?? 'Unsafe' }, options),
};

export const Type = builders as unknown as Builders;
