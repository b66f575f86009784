// The package's build, run by `npm pack` (prepack). Node refuses to strip the types of modules
// under node_modules, so the published package is JavaScript: dist/ mirrors src/, with `.d.ts`
// beside each module for the SDK's users. The repository itself never needs dist/: its tests,
// `npm start` and bin/keygate.js run the sources.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');

rmSync(DIST, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });

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

// tsc rewrites the extension of import specifiers only: a module that names another by URL
// (a worker thread's script) would still name the .ts file that is not in the package.
const stale = listFiles(DIST)
  .filter((path) => path.endsWith('.js'))
  .flatMap((path) =>
    [...readFileSync(path, 'utf8').matchAll(/new URL\(['"](\.{1,2}\/[^'"]+\.ts)['"]/g)].map(
      (match) => `${relative(ROOT, path)}: ${match[1]}`,
    ),
  );
if (stale.length > 0) {
  process.stderr.write(
    `These URLs name .ts files, which the package does not hold:\n  ${stale.join('\n  ')}\n`,
  );
  process.exit(1);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}
