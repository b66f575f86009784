#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.ts';
import { CodedError } from '../core/error-codes.ts';
import { PACKAGE_VERSION } from '../version.ts';
import { CliError, EXIT, exitCodeFor, printError } from './output.ts';

/**
 * Each command's module, in the order help lists them. A run loads only the module of the
 * command it names: `keygate org list` does not load the HTTP server (measured: less than half
 * the CPU time, 20 MB less), nor `keygate serve` the admin commands (1 MB). Anything else (no
 * command, --help, a typo) loads them all, so that help and suggestions name every command.
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  serve: async () => (await import('./commands/serve.ts')).serveCommand,
  org: async () => (await import('./commands/org.ts')).orgCommands,
  key: async () => (await import('./commands/key.ts')).keyCommands,
  keygen: async () => (await import('./commands/keygen.ts')).keygenCommand,
  token: async () => (await import('./commands/token.ts')).tokenCommand,
  sign: async () => (await import('./commands/sign.ts')).signCommand,
  hello: async () => (await import('./commands/hello.ts')).helloCommand,
  user: async () => (await import('./commands/user.ts')).userCommands,
  login: async () => (await import('./commands/login.ts')).loginCommand,
  'server-key': async () => (await import('./commands/server-key.ts')).serverKeyCommands,
  audit: async () => (await import('./commands/audit.ts')).auditCommand,
  doctor: async () => (await import('./commands/doctor.ts')).doctorCommand,
};

const program = new Command('keygate')
  .description('Key-pair and session authentication for APIs')
  .version(PACKAGE_VERSION)
  .exitOverride()
  .showSuggestionAfterError();
const named = process.argv[2] ?? '';
const loaders = Object.hasOwn(COMMANDS, named)
  ? Object.entries(COMMANDS).filter(([name]) => name === named)
  : Object.entries(COMMANDS);
for (const register of await Promise.all(loaders.map(([, load]) => load()))) register(program);

const json = process.argv.includes('--json');
// Above the await below: a command failing on the store reads it while the module is still running.
const STORE_HINT =
  'Check KEYGATE_DATABASE: for a file, its disk and that no other process holds it locked; for PostgreSQL, that the server is up and reachable.';
try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
  // A worker of `serve --workers` holds an IPC channel to its primary, which keeps the process
  // alive after a failed start (an unreadable secret file, a port taken), and letting go of it
  // makes node:cluster exit 0: end it here, with the failure's code, for the primary to see.
  if (process.connected) process.exit(process.exitCode);
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its own message (or help/version, which exit 0).
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  const failure = asCliError(error);
  printError(json, failure);
  return failure.exitCode;
}

function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof CodedError) {
    const { code, field, hint } = error.refusal;
    // The operator runs this next to the store, so the error's own message is shown: for a store
    // failure that is what the database reported, which a client of the server never sees.
    return new CliError(code, error.message, {
      hint: code === 'unavailable' ? STORE_HINT : hint,
      exitCode: exitCodeFor(code),
      ...(field !== undefined && { field }),
    });
  }
  if (error instanceof ConfigError) return new CliError('invalid_config', error.message);
  return new CliError('failure', (error as Error).message ?? String(error), { exitCode: EXIT.failure });
}
