// The package's build, run by `npm pack` (prepack) and by deploy/Dockerfile. Node refuses to
// strip the types of modules under node_modules, so the published package is JavaScript, and a
// server started from it should not load 200 modules one by one: dist/ holds the CLI (and so the
// server), the SDK and the SQLite checkpoint thread bundled by esbuild, each at the path its
// source has under src/, their shared code in dist/chunks/, `.d.ts` beside each module for the
// SDK's users, and the files the server reads at run time. The repository itself never needs
// dist/: its tests, `npm start` and bin/keygate.js run the sources.
//
// Usage: node scripts/build-package.ts [output directory, default dist/]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = resolve(process.argv[2] ?? join(ROOT, 'dist'));

/** Modules started by path (a worker thread's script) or imported by the package's users. */
const ENTRY_POINTS = ['cli/main.ts', 'sdk/index.ts', 'store/sqlite-checkpoint-worker.ts'];

/**
 * Left in node_modules (they are the package's dependencies): each is loaded only on first use,
 * so it costs a start nothing, and @fastify/swagger-ui serves files from its own folder.
 */
const LOADED_ON_FIRST_USE = ['@fastify/swagger', '@fastify/swagger-ui', 'pg', 'ioredis', 'prom-client'];

rmSync(DIST, { recursive: true, force: true });

const { outputFiles } = await build({
  absWorkingDir: ROOT,
  entryPoints: ENTRY_POINTS.map((path) => join(SRC, path)),
  outbase: SRC,
  outdir: DIST,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  external: LOADED_ON_FIRST_USE,
  // Fastify and its plugins are CommonJS and require Node's modules: an ES module has no
  // `require` of its own to give them.
  banner: {
    js: "import { createRequire as __keygateRequire } from 'node:module';\nconst require = __keygateRequire(import.meta.url);",
  },
  plugins: [modulesKeepTheirUrls()],
  logLevel: 'warning',
  // Written below, once each, in ASCII.
  write: false,
});

const misplaced = outputFiles
  .map(({ path }) => relative(DIST, path).split('\\').join('/'))
  .filter((path) => path.split('/').length !== 2);
if (misplaced.length > 0)
  fail(
    `These bundled files are not one folder below dist/, where modulesKeepTheirUrls assumes every ` +
      `output is (it names each module's URL as ../<its path>): keep ENTRY_POINTS one folder deep ` +
      `under src/ and chunkNames one folder deep.\n  ${misplaced.join('\n  ')}`,
  );
for (const { path, text } of outputFiles) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, asciiOnly(text));
}

// Declarations only: the JavaScript is esbuild's.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(
  process.execPath,
  [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--emitDeclarationOnly', '--outDir', DIST],
  { stdio: 'inherit' },
);

// Files read at run time next to the module that reads them (new URL(..., import.meta.url)):
// every file of src/ that is not a module, and the dashboard's browser sources, which the
// server reads as text and strips itself. src/web's tsconfig is only for type-checking.
cpSync(SRC, DIST, {
  recursive: true,
  filter: (source) => {
    const path = relative(SRC, source).split('\\').join('/');
    if (path === '' || !path.includes('.')) return true;
    if (path === 'web/tsconfig.json') return false;
    return path.startsWith('web/') || !path.endsWith('.ts');
  },
});

// A module that names another by URL (a worker thread's script) must name a file the package holds.
const stale = outputFiles.flatMap(({ path, text }) =>
  [...text.matchAll(/new URL\(['"](\.{1,2}\/[^'"]+\.ts)['"]/g)].map(
    (match) => `${relative(ROOT, path)}: ${match[1]}`,
  ),
);
if (stale.length > 0)
  fail(
    'These URLs name .ts files, which the package does not hold: take the extension from ' +
      `import.meta.url, as store/sqlite-checkpointer.ts does.\n  ${stale.join('\n  ')}`,
  );

/**
 * A bundled module's `import.meta.url` is the URL of the file it was bundled into, yet the
 * sources find their files relative to themselves (`new URL('../package.json',
 * import.meta.url)`, the dashboard's folder, the checkpoint thread's script). So each module's
 * `import.meta.url` becomes the URL its compiled self would have in dist/, which mirrors src/
 * (`dist/version.js` for `src/version.ts`); the files it names are copied there.
 */
function modulesKeepTheirUrls(): Plugin {
  return {
    name: 'modules-keep-their-urls',
    setup(esbuild) {
      esbuild.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!args.path.startsWith(SRC)) return undefined;
        const compiled = relative(SRC, args.path).split('\\').join('/').replace(/\.ts$/, '.js');
        const url = `new URL(${JSON.stringify(`../${compiled}`)}, import.meta.url).href`;
        const source = readFileSync(args.path, 'utf8').replace(/\bimport\.meta\.url\b/g, url);
        return { contents: source, loader: 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
}

/**
 * esbuild writes every string, template and regular expression in ASCII (its `charset` default)
 * but copies comments as they are, and a few of the bundled packages' comments hold a `§` or a
 * `—`. One such character makes Node decode the whole file into a two-byte string: for the
 * server's 1.8 MB chunk, 1.8 MB more memory for as long as the server runs (measured: idle RSS
 * 72.1 against 73.9 MB). So what is left outside ASCII, which can only be in comments, is written
 * as `\uXXXX` there.
 */
function asciiOnly(code: string): string {
  return code.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
