#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.ts';
import { InputError } from '../service/input-error.ts';
import { PACKAGE_VERSION } from '../version.ts';
import { helloCommand } from './commands/hello.ts';
import { keyCommands } from './commands/key.ts';
import { keygenCommand } from './commands/keygen.ts';
import { loginCommand } from './commands/login.ts';
import { orgCommands } from './commands/org.ts';
import { serveCommand } from './commands/serve.ts';
import { serverKeyCommands } from './commands/server-key.ts';
import { tokenCommand } from './commands/token.ts';
import { userCommands } from './commands/user.ts';
import { CliError, EXIT, printError } from './output.ts';

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
helloCommand(program);
userCommands(program);
loginCommand(program);
serverKeyCommands(program);

const json = process.argv.includes('--json');
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
  if (error instanceof CliError) {
    printError(json, error);
    return error.exitCode;
  }
  if (error instanceof InputError) {
    printError(json, new CliError('invalid_input', `${error.field}: ${error.message}`, { hint: error.hint }));
    return EXIT.usage;
  }
  if (error instanceof ConfigError) {
    printError(json, new CliError('invalid_config', error.message));
    return EXIT.usage;
  }
  printError(
    json,
    new CliError('failure', (error as Error).message ?? String(error), { exitCode: EXIT.failure }),
  );
  return EXIT.failure;
}
