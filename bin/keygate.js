#!/usr/bin/env node
// Node >= 24 runs the TypeScript sources directly (type stripping); there is no build step (only
// the npm package carries dist/, built by `npm pack`). This file is plain JavaScript that any
// Node can parse, so an older Node gets told what to do instead of a stack trace about ".ts"
// files. Each branch imports what it uses, when it runs: `serve` replaces this process before
// anything else is loaded.

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);

if (major >= REQUIRED_MAJOR) {
  // First of all: a server replaces this process with one under its settings (serve-settings.js).
  const { serveStart, threadPoolSize } = await import('./serve-settings.js');
  const { availableParallelism } = await import('node:os');
  const poolSize = threadPoolSize(process.argv, process.env, availableParallelism());
  if (poolSize !== undefined) process.env.UV_THREADPOOL_SIZE = poolSize;
  const start = serveStart(process.argv, process.execArgv, process.env);
  if (start && typeof process.execve === 'function') {
    try {
      process.execve(process.execPath, [process.execPath, ...start.args], start.env);
    } catch {
      // It returns only when the system refused (the executable gone or not allowed): serve
      // without the settings rather than not at all.
    }
  }
  // Before the first .ts module: see compile-cache.js.
  const { useCompileCache } = await import('./compile-cache.js');
  useCompileCache();
  // The repository runs its sources. The npm package holds no sources, only dist/ (Node strips
  // no types under node_modules): a dist/ left in a checkout by `npm pack` is never run.
  const { existsSync } = await import('node:fs');
  const sources = new URL('../src/cli/main.ts', import.meta.url);
  await import(existsSync(sources) ? sources.href : new URL('../dist/cli/main.js', import.meta.url).href);
} else {
  const { spawn } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  // `npm ci` installs the project's pinned Node beside this file: run the command under it.
  // Installed as a dependency, npm puts it beside the keygate package instead.
  const pinned = ['../node_modules/node/bin/node', '../../node/bin/node']
    .map((path) => fileURLToPath(new URL(path, import.meta.url)))
    .find((path) => existsSync(path));
  if (pinned === undefined) {
    process.stderr.write(
      `keygate needs Node.js ${REQUIRED_MAJOR} or newer; this is Node ${process.versions.node} (${process.execPath}).\n` +
        `  Run "npm ci" in the keygate folder: it installs the pinned Node ${REQUIRED_MAJOR} that keygate then uses,\n` +
        `  or install Node ${REQUIRED_MAJOR} and put it first on PATH.\n`,
    );
    process.exit(2);
  }
  // A server is started under its settings (serve-settings.js) here, as the child.
  const { serveStart } = await import('./serve-settings.js');
  const start = serveStart(process.argv, [], process.env) ?? {
    args: [fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    env: process.env,
  };
  const child = spawn(pinned, start.args, { stdio: 'inherit', env: start.env });
  // A process manager signals this process; the server runs in the child, so pass it on.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
}
