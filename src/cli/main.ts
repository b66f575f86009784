#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.ts';
import { CodedError } from '../core/error-codes.ts';
import { PACKAGE_VERSION } from '../version.ts';
import { helloCommand } from './commands/hello.ts';
import { keyCommands } from './commands/key.ts';
import { keygenCommand } from './commands/keygen.ts';
import { loginCommand } from './commands/login.ts';
import { orgCommands } from './commands/org.ts';
import { serveCommand } from './commands/serve.ts';
import { serverKeyCommands } from './commands/server-key.ts';
import { signCommand } from './commands/sign.ts';
import { tokenCommand } from './commands/token.ts';
import { userCommands } from './commands/user.ts';
import { CliError, EXIT, exitCodeFor, printError } from './output.ts';

const program = new Command('keygate')
  .description('Key-pair and session authentication for APIs')
  .version(PACKAGE_VERSION)
  .exitOverride()
  .showSuggestionAfterError();
serveCommand(program);
orgCommands(program);
keyCommands(program);
keygenCommand(program);
tokenCommand(program);
signCommand(program);
helloCommand(program);
userCommands(program);
loginCommand(program);
serverKeyCommands(program);

const json = process.argv.includes('--json');
// Above the await below: a command failing on the store reads it while the module is still running.
const STORE_HINT =
  'Check KEYGATE_DATABASE: for a file, its disk and that no other process holds it locked; for PostgreSQL, that the server is up and reachable.';
try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
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
