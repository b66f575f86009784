#!/usr/bin/env node
// Node >= 24 runs the TypeScript sources directly (type stripping); there is no build step. This
// file is plain JavaScript that any Node can parse, so an older Node gets told what to do instead
// of a stack trace about ".ts" files.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);

if (major >= REQUIRED_MAJOR) {
  // First of all: a server replaces this process with one under glibc settings (malloc-env.js).
  const { serveEnvironment } = await import('./malloc-env.js');
  const env = serveEnvironment(process.argv, process.env);
  if (env && typeof process.execve === 'function') {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
  }
  // Before the first .ts module: see compile-cache.js.
  const { useCompileCache } = await import('./compile-cache.js');
  useCompileCache();
  await import('../src/cli/main.ts');
} else {
  // `npm ci` installs the project's pinned Node beside this file: run the command under it.
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `keygate needs Node.js ${REQUIRED_MAJOR} or newer; this is Node ${process.versions.node} (${process.execPath}).\n` +
        `  Run "npm ci" in the keygate folder: it installs the pinned Node ${REQUIRED_MAJOR} that keygate then uses,\n` +
        `  or install Node ${REQUIRED_MAJOR} and put it first on PATH.\n`,
    );
    process.exit(2);
  }
  // The child is the server, if any: it starts under the malloc settings itself (malloc-env.js).
  const { serveEnvironment } = await import('./malloc-env.js');
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: serveEnvironment(process.argv, process.env) ?? process.env,
  });
  // A process manager signals this process; the server runs in the child, so pass it on.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
}
