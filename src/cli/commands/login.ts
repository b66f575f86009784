import type { Command } from 'commander';
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
      const passHash = await readPassHash();
      let response: Response;
      try {
        response = await fetch(new URL('/auth/login', options.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user: options.user, pass_hash: passHash }),
          signal: AbortSignal.timeout(15_000),
        });
      } catch (error) {
        throw new CliError('unreachable', `Cannot reach ${options.url}: ${(error as Error).message}.`, {
          hint: 'Check --url and that the server is running.',
          exitCode: EXIT.server,
        });
      }
      const body = (await response.json().catch(() => ({}))) as LoginBody;
      if (response.status === 202 && body.results) {
        const results = body.results;
        print(options, results, () => results.token.HY_APP_AUTH_v1);
        return;
      }
      const error = body.error ?? {
        code: 'server_error',
        message: `The server answered ${response.status}.`,
      };
      throw new CliError(error.code, error.message, {
        ...(error.hint !== undefined && { hint: error.hint }),
        exitCode:
          response.status === 401 ? EXIT.rejected : response.status === 400 ? EXIT.usage : EXIT.server,
      });
    });
}
