import type { Command } from 'commander';
import { callServer, checkServerUrl } from '../io.ts';
import { CliError, EXIT, print } from '../output.ts';
import { readPassHash } from '../password.ts';

interface LoginBody {
  results?: { token: { HY_APP_AUTH_v1: string }; user: Record<string, string>; login_timestamp: string };
  error?: { code: string; message: string; hint?: string };
}

export function loginCommand(program: Command): void {
  program
    .command('login')
    .description('log in as spec 004 does (SHA-256 of the password, hashed here) and print the session token')
    .requiredOption('--url <url>', 'the server, for example http://127.0.0.1:8080')
    .requiredOption('--user <email>', 'the account email')
    .option('--password-stdin', 'read the password from standard input (otherwise it is typed without echo)')
    .option('--json', 'print the whole answer as JSON')
    .action(async (options: { url: string; user: string; json?: boolean }) => {
      checkServerUrl(options.url);
      const passHash = await readPassHash();
      const { status, body } = await callServer<LoginBody>(options.url, '/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: options.user, pass_hash: passHash }),
      });
      const results = body?.results;
      if (status === 202 && results) {
        print(options, results, () => results.token.HY_APP_AUTH_v1);
        return;
      }
      const error = body?.error ?? {
        code: 'server_error',
        message: `The server answered ${status}.`,
      };
      throw new CliError(error.code, error.message, {
        ...(error.hint !== undefined && { hint: error.hint }),
        exitCode: status === 401 ? EXIT.rejected : status === 400 ? EXIT.usage : EXIT.server,
      });
    });
}
