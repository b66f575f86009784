import type { Command } from 'commander';
import { withAdmin } from '../admin-store.ts';
import { print } from '../output.ts';

export function serverKeyCommands(program: Command): void {
  program
    .command('server-key')
    .description("Keygate's own keys for session tokens")
    .command('rotate')
    .description('make a new session signing key; tokens signed by the old one stay valid until they expire')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const kid = await withAdmin(async (admin) => {
        const keyring = admin.keyring();
        // Opens the current key first: a secret that does not match the database stops here.
        await keyring.start();
        return keyring.rotate();
      });
      print(
        options,
        { kid },
        () => `New session signing key ${kid}; servers pick it up on their next key reload.`,
      );
    });
}
