import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, posix, relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// Data flows one way (DESIGN.md): http/cli -> service -> core + store. This test reads the
// import graph of src/ and fails on a cycle or an import against that flow, type-only ones
// included: a type imported upwards still ties the lower layer to the upper one.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');

type Layer = 'core' | 'store' | 'service' | 'http' | 'cli' | 'sdk' | 'web' | 'config' | 'version';

interface Rule {
  /** The layers whose files it may import (its own included when listed). */
  may: readonly Layer[];
  /** Layers it may import only from these files (paths under src/). */
  onlyFrom?: Partial<Record<Layer, readonly string[]>>;
  /** Whether it may import npm packages (always only runtime dependencies: src/ ships). */
  packages: boolean;
  /** Packages it may name in `import type` only: erased from the JavaScript, so nothing loads. */
  typePackages?: readonly string[];
}

const RULES: Record<Layer, Rule> = {
  core: { may: ['core'], packages: false },
  store: { may: ['core', 'store'], packages: true },
  service: { may: ['core', 'store', 'service'], packages: true },
  http: { may: ['core', 'service', 'http', 'version'], packages: true },
  // The CLI is wiring: it may reach anything, but the HTTP face only to serve it.
  cli: {
    may: ['core', 'store', 'service', 'http', 'cli', 'sdk', 'config', 'version'],
    onlyFrom: { http: ['cli/commands/serve.ts'] },
    packages: true,
  },
  config: { may: ['core', 'config'], packages: false },
  // Clients embed the SDK: it must not pull in the server's rules of storage or its packages.
  // Its Fastify plugin names Fastify's types, which an API that uses the plugin already has.
  sdk: { may: ['core', 'sdk'], packages: false, typePackages: ['fastify'] },
  // The dashboard runs in a browser: nothing of the server's, no package, no built-in.
  web: { may: ['web'], packages: false },
  version: { may: [], packages: false },
};

/** Built-ins that touch the disk, the network or other processes: never in src/core. */
const IO_BUILTINS = [
  'node:child_process',
  'node:cluster',
  'node:dgram',
  'node:dns',
  'node:fs',
  'node:fs/promises',
  'node:http',
  'node:http2',
  'node:https',
  'node:net',
  'node:sqlite',
  'node:tls',
  'node:worker_threads',
];

interface Import {
  specifier: string;
  line: number;
  /** `import type { X } from`, `export type`, `import('p').T`: nothing of it is loaded at run time. */
  typeOnly?: boolean;
}

/** Whether an import or export declaration brings in types only (erased by type stripping). */
function isTypeOnly(node: ts.Node): boolean {
  // `import { type X } from 'p'` is not: stripped, it leaves `import {} from 'p'`, which loads p.
  if (ts.isImportDeclaration(node)) return node.importClause?.isTypeOnly ?? false;
  if (ts.isExportDeclaration(node)) return node.isTypeOnly;
  return ts.isImportTypeNode(node);
}

/** Every module specifier a file names: import, import type, export-from, import() and import('x').T. */
function importsOf(fileName: string, text: string): Import[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (node: ts.Node, literal: ts.Node | undefined) => {
    if (literal && ts.isStringLiteralLike(literal))
      found.push({
        specifier: literal.text,
        line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
        ...(isTypeOnly(node) && { typeOnly: true }),
      });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node, node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      add(node, node.moduleReference.expression);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node, node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument))
      add(node, node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Reads of the clock or the environment: what src/core takes as parameters instead. */
function ambientReadsOf(fileName: string, text: string): Import[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Import[] = [];
  const isName = (node: ts.Node, name: string) => ts.isIdentifier(node) && node.text === name;
  const add = (node: ts.Node, what: string) =>
    found.push({
      specifier: what,
      line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
    });
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node)) {
      if (isName(node.expression, 'Date') && node.name.text === 'now') add(node, 'Date.now');
      if (isName(node.expression, 'performance') && node.name.text === 'now') add(node, 'performance.now');
      if (isName(node.expression, 'process') && node.name.text === 'env') add(node, 'process.env');
    }
    if (
      ts.isElementAccessExpression(node) &&
      isName(node.expression, 'process') &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      node.argumentExpression.text === 'env'
    )
      add(node, 'process.env');
    if (ts.isNewExpression(node) && isName(node.expression, 'Date') && (node.arguments?.length ?? 0) === 0)
      add(node, 'new Date()');
    if (ts.isCallExpression(node) && isName(node.expression, 'Date')) add(node, 'Date()');
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Each cycle of the graph once, as a path that starts and ends at its smallest file. */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's strongly connected components; a component of two or more files (or a file that
  // imports itself) holds at least one cycle, and one is enough to name the files involved.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string): void => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, indices.get(next) as number));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) connect(node);
  return components
    .map((component) => {
      const members = new Set(component);
      const start = [...component].sort()[0] as string;
      // Shortest way back to the start inside the component.
      const previous = new Map<string, string>();
      const queue = [start];
      while (queue.length > 0) {
        const node = queue.shift() as string;
        for (const next of [...(graph.get(node) ?? [])].sort()) {
          if (!members.has(next)) continue;
          if (next === start) {
            const path = [start];
            for (let at: string | undefined = node; at !== undefined && at !== start; at = previous.get(at))
              path.splice(1, 0, at);
            return [...path, start];
          }
          if (!previous.has(next)) {
            previous.set(next, node);
            queue.push(next);
          }
        }
      }
      return [start, start];
    })
    .sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}

function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listTs(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** `core/verify-token.ts` for src/core/verify-token.ts: paths as the rules name them. */
const srcPath = (path: string) => relative(SRC, path).split(sep).join(posix.sep);

function layerOf(path: string): Layer | undefined {
  const [first, ...rest] = path.split('/');
  const name = rest.length === 0 ? first?.replace(/\.ts$/, '') : first;
  return name !== undefined && name in RULES ? (name as Layer) : undefined;
}

const packageName = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

interface Edge extends Import {
  from: string;
  /** The file under src/ a relative import resolves to. */
  to?: string;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
};
const RUNTIME_PACKAGES = new Set(Object.keys(manifest.dependencies ?? {}));

const files = listTs(SRC).map((path) => ({ path: srcPath(path), text: readFileSync(path, 'utf8') }));
/**
 * The file a relative import names. src/web's modules name each other as the browser asks for
 * them, `./x.js`, which the server makes from `x.ts`.
 */
function resolveImport(from: string, specifier: string): string | undefined {
  const named = join(dirname(join(SRC, from)), specifier);
  const candidates =
    layerOf(from) === 'web' && named.endsWith('.js') ? [named.replace(/\.js$/, '.ts')] : [named];
  const target = candidates.find((path) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false);
  return target === undefined ? undefined : srcPath(target);
}

const edges: Edge[] = files.flatMap(({ path, text }) =>
  importsOf(path, text).map((found): Edge => {
    if (!found.specifier.startsWith('.')) return { ...found, from: path };
    const to = resolveImport(path, found.specifier);
    return { ...found, from: path, ...(to !== undefined && { to }) };
  }),
);
const where = (edge: Edge) => `src/${edge.from}:${edge.line} imports '${edge.specifier}'`;

describe('the checker itself', () => {
  test('finds every form of import, and none in comments or strings', () => {
    const text = `
      import a from './a.ts';
      import type { B } from './b.ts';
      import { type C, d } from "./c.ts";
      import './side-effect.ts';
      export { e } from './e.ts';
      export * from './f.ts';
      export type { G } from './g.ts';
      const h = await import('./h.ts');
      let i: import('./i.ts').I;
      // import x from './comment.ts';
      /** import { readFileSync } from 'node:fs'; */
      const s = "import y from './string.ts'";`;
    assert.deepEqual(
      importsOf('x.ts', text).map((i) => i.specifier),
      ['./a.ts', './b.ts', './c.ts', './side-effect.ts', './e.ts', './f.ts', './g.ts', './h.ts', './i.ts'],
    );
    assert.deepEqual(
      importsOf('x.ts', text)
        .filter((i) => i.typeOnly)
        .map((i) => i.specifier),
      ['./b.ts', './g.ts', './i.ts'],
    );
  });

  test('finds reads of the clock and the environment in code, not in comments', () => {
    const text = `
      const a = Date.now();
      const b = new Date();
      const c = new Date(0);
      const d = Date();
      const e = process.env.X;
      const f = process['env'];
      const g = \`\${Math.floor(Date.now() / 1000)}\`;
      const h = performance.now();
      // Date.now() and process.env in a comment are fine`;
    assert.deepEqual(
      ambientReadsOf('x.ts', text).map((i) => `${i.line}:${i.specifier}`),
      [
        '2:Date.now',
        '3:new Date()',
        '5:Date()',
        '6:process.env',
        '7:process.env',
        '8:Date.now',
        '9:performance.now',
      ],
    );
  });

  test('names each cycle once, from its smallest file', () => {
    const graph = new Map([
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['a', ['b']],
      ['d', []],
      ['e', ['e']],
      ['f', ['a']],
    ]);
    assert.deepEqual(cyclesOf(graph), [
      ['a', 'b', 'c', 'a'],
      ['e', 'e'],
    ]);
  });
});

describe('the import graph of src/', () => {
  test('every file belongs to a layer of the table', () => {
    assert.deepEqual(
      files.map((f) => f.path).filter((path) => layerOf(path) === undefined),
      [],
      'add the new folder or file to RULES with what it may import',
    );
    assert.ok(files.length > 50, `read ${files.length} files`);
  });

  test('every relative import names a file under src/', () => {
    assert.deepEqual(edges.filter((e) => e.specifier.startsWith('.') && e.to === undefined).map(where), []);
  });

  test('has no cycles', () => {
    const graph = new Map(files.map((f) => [f.path, [] as string[]]));
    for (const edge of edges) if (edge.to) graph.get(edge.from)?.push(edge.to);
    assert.deepEqual(
      cyclesOf(graph).map((cycle) => cycle.map((path) => `src/${path}`).join(' -> ')),
      [],
      'files on an import cycle: move what both need to the lower one, or to a new file',
    );
  });

  for (const [layer, rule] of Object.entries(RULES) as [Layer, Rule][]) {
    const only = Object.entries(rule.onlyFrom ?? {})
      .map(([to, from]) => `, ${to} only from ${from.join(', ')}`)
      .join('');
    const may = rule.may.length === 0 ? 'no file of src/' : `only ${rule.may.join(', ')}`;
    test(`src/${layer} imports ${may}${only}`, () => {
      const upward = edges.filter((edge) => {
        if (edge.to === undefined || layerOf(edge.from) !== layer) return false;
        const target = layerOf(edge.to) as Layer;
        if (!rule.may.includes(target)) return true;
        const allowed = rule.onlyFrom?.[target];
        return allowed !== undefined && !allowed.includes(edge.from);
      });
      assert.deepEqual(
        upward.map((e) => `${where(e)} (${layerOf(e.to as string)})`),
        [],
      );
    });
  }

  test('built-ins are named with node:, and packages are runtime dependencies where a layer may use any', () => {
    const wrong = edges.flatMap((edge) => {
      if (edge.specifier.startsWith('.')) return [];
      if (layerOf(edge.from) === 'web')
        return [`${where(edge)}: src/web runs in a browser, with no modules but its own`];
      if (isBuiltin(edge.specifier))
        return edge.specifier.startsWith('node:') ? [] : [`${where(edge)}: write 'node:${edge.specifier}'`];
      const rule = RULES[layerOf(edge.from) as Layer];
      if (edge.typeOnly && rule.typePackages?.includes(packageName(edge.specifier))) return [];
      if (!rule.packages) return [`${where(edge)}: src/${layerOf(edge.from)} imports no npm package`];
      if (!RUNTIME_PACKAGES.has(packageName(edge.specifier)))
        return [`${where(edge)}: not in package.json dependencies`];
      return [];
    });
    assert.deepEqual(wrong, []);
  });
});

describe('src/core is pure', () => {
  const core = files.filter((f) => layerOf(f.path) === 'core');

  test('it never reads the clock or the environment (now and settings are parameters)', () => {
    const reads = core.flatMap(({ path, text }) =>
      ambientReadsOf(path, text).map((read) => `src/${path}:${read.line} ${read.specifier}`),
    );
    assert.deepEqual(reads, []);
  });

  test('it imports no built-in that reaches the disk, the network or other processes', () => {
    const io = edges.filter(
      (edge) =>
        layerOf(edge.from) === 'core' &&
        IO_BUILTINS.includes(edge.specifier.startsWith('node:') ? edge.specifier : `node:${edge.specifier}`),
    );
    assert.deepEqual(io.map(where), []);
  });
});
