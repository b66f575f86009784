import type { Command } from 'commander';
import { isoTime } from '../../core/time.ts';
import { withKeyAdmin } from '../admin-store.ts';
import { cliName, print, table } from '../output.ts';

export function orgCommands(program: Command): void {
  const org = program.command('org').description('manage organizations');
  org
    .command('create')
    .description('create an organization; prints its Organization ID')
    .requiredOption('--name <name>', 'a name people recognise')
    .option(
      '--single-use-tokens',
      'accept each token only once (default: a token may be reused until it expires)',
    )
    .option('--json', 'machine-readable output')
    .action(async (options: { name: string; singleUseTokens?: boolean; json?: boolean }) => {
      const created = await withKeyAdmin((admin) =>
        admin.createOrg(options.name, { singleUseTokens: options.singleUseTokens ?? false }),
      );
      const data = {
        org_id: created.id,
        name: created.name,
        single_use_tokens: created.singleUseTokens,
        created_at: isoTime(created.createdAt),
      };
      print(options, data, () =>
        [
          `Organization ID: ${created.id}`,
          `Next: register a public key with`,
          `  ${cliName()} key add --org ${created.id} --public-key my.key.pub`,
        ].join('\n'),
      );
    });
  org
    .command('list')
    .description('list organizations')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const orgs = await withKeyAdmin((admin) => admin.listOrgs());
      const data = orgs.map((o) => ({
        org_id: o.id,
        name: o.name,
        single_use_tokens: o.singleUseTokens,
        created_at: isoTime(o.createdAt),
      }));
      print(options, data, () =>
        data.length === 0
          ? 'No organizations yet.'
          : table([['ORG ID', 'CREATED', 'NAME'], ...data.map((o) => [o.org_id, o.created_at, o.name])]),
      );
    });
}
