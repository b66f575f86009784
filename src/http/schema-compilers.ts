import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

/** What Fastify passes a compiler for one part of one route (body, params, a response status...). */
type RouteSchema = { schema: unknown; method: string; url: string };
type Validate = ((data: unknown) => unknown) & { errors?: unknown };
type Serialize = (data: unknown) => string;
type Compile<F> = (route: RouteSchema) => F;
type Factory<F> = (externalSchemas: unknown, options: unknown) => Compile<F>;

// The compilers Fastify itself would use, resolved from Fastify's own folder (they are its
// dependencies, not this package's), and loaded only when a schema is first compiled.
const fromFastify = (id: string) => createRequire(createRequire(import.meta.url).resolve('fastify'))(id);
const ajvCompiler = () => (fromFastify('@fastify/ajv-compiler') as () => Factory<Validate>)();
const stringifyCompiler = () =>
  (fromFastify('@fastify/fast-json-stringify-compiler') as () => Factory<Serialize>)();

/**
 * Fastify's own validator (ajv) and serializer (fast-json-stringify) compilers, each schema
 * compiled on its first use instead of when the server starts. Compiling every route's schemas
 * up front was 40% of the CPU time to the first answer and 12 MB of the idle process, for routes
 * a given deployment may never be asked. After the first call a route runs the same compiled
 * function as before, one call deeper.
 *
 * Fastify treats these as custom compilers, which changes one thing: a `headers` schema is
 * compiled as written, not with its property names lower-cased first, so such a schema must name
 * headers in lower case (as Node delivers them).
 */
export class SchemaCompilers {
  /** The compilations not run yet: `compileAll` runs them, as Fastify would have at start. */
  private readonly pending = new Set<() => unknown>();

  readonly factories: Factories = {
    buildValidator: ((externalSchemas: unknown, options: unknown) => {
      const compile = this.once(() => ajvCompiler()(externalSchemas, options));
      return (route: RouteSchema) => {
        const validator = this.deferred(() => compile()(route));
        const validate: Validate = (data) => {
          const compiled = validator();
          const valid = compiled(data);
          // Fastify reads the errors off the function it called.
          validate.errors = compiled.errors;
          return valid;
        };
        return validate;
      };
    }) as unknown as Factories['buildValidator'],
    buildSerializer: ((externalSchemas: unknown, options: unknown) => {
      const compile = this.once(() => stringifyCompiler()(externalSchemas, options));
      return (route: RouteSchema) => {
        const serializer = this.deferred(() => compile()(route));
        return (data: unknown) => serializer()(data);
      };
    }) as unknown as Factories['buildSerializer'],
  };

  /** How many route schemas have not been compiled yet. */
  get uncompiled(): number {
    return this.pending.size;
  }

  /** Compiles every schema not compiled yet; a schema Fastify would have refused at start throws here. */
  compileAll(): void {
    for (const compile of [...this.pending]) compile();
  }

  private once<T>(make: () => T): () => T {
    let made: { value: T } | undefined;
    return () => {
      made ??= { value: make() };
      return made.value;
    };
  }

  private deferred<T>(make: () => T): () => T {
    const get = this.once(() => {
      const value = make();
      this.pending.delete(get);
      return value;
    });
    this.pending.add(get);
    return get;
  }
}
