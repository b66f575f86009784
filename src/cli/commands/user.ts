import type { Command } from 'commander';
import type { UserRecord } from '../../core/account-records.ts';
import { isoTime } from '../../core/time.ts';
import { withAdmin } from '../admin-store.ts';
import { print, table } from '../output.ts';
import { readNewPassHash } from '../password.ts';

function userView(user: UserRecord) {
  return {
    id: user.id,
    org_id: user.orgId,
    email: user.email,
    user_name: user.email,
    screen_name: user.screenName,
    role: user.role,
    status: user.status,
    locked_until: user.lockedUntil === null ? null : isoTime(user.lockedUntil),
    created_at: isoTime(user.createdAt),
  };
}

const PASSWORD_NOTE =
  'the password, 12 characters or more and not a common one, is read from stdin (--password-stdin) or typed without echo; never from argv';

export function userCommands(program: Command): void {
  const user = program.command('user').description('manage accounts that log in with a password');
  user
    .command('create')
    .description(`create an account (${PASSWORD_NOTE})`)
    .requiredOption('--org <org_id>', 'the Organization ID')
    .requiredOption('--email <email>', 'the email, which is also the user name')
    .option('--screen-name <name>', 'the name shown to people')
    .option('--role <role>', 'admin, user, device or service', 'user')
    .option('--password-stdin', 'read the password from standard input')
    .option('--json', 'machine-readable output')
    .action(
      async (options: { org: string; email: string; screenName?: string; role: string; json?: boolean }) => {
        const passHash = await readNewPassHash();
        const created = await withAdmin(({ users }) =>
          users.create({
            orgId: options.org,
            email: options.email,
            role: options.role,
            passHash,
            ...(options.screenName !== undefined && { screenName: options.screenName }),
          }),
        );
        print(
          options,
          userView(created),
          () => `User ${created.email} (${created.id}) created in ${created.orgId}.`,
        );
      },
    );
  user
    .command('list')
    .description("list an organization's accounts")
    .requiredOption('--org <org_id>', 'the Organization ID')
    .option('--json', 'machine-readable output')
    .action(async (options: { org: string; json?: boolean }) => {
      const users = (await withAdmin(({ users }) => users.list(options.org))).map(userView);
      print(options, users, () =>
        users.length === 0
          ? 'No users yet.'
          : table([
              ['EMAIL', 'ROLE', 'STATUS', 'SCREEN NAME', 'ID'],
              ...users.map((u) => [u.email, u.role, u.status, u.screen_name, u.id]),
            ]),
      );
    });
  for (const [name, status, description] of [
    ['disable', 'disabled', 'stop an account from logging in and end its sessions'],
    ['enable', 'active', 'let a disabled account log in again'],
  ] as const) {
    user
      .command(`${name} <email>`)
      .description(description)
      .option('--json', 'machine-readable output')
      .action(async (email: string, options: { json?: boolean }) => {
        const changed = await withAdmin(({ users }) => users.setStatus(email, status));
        print(options, userView(changed), () => `User ${changed.email} is now ${changed.status}.`);
      });
  }
  user
    .command('set-password <email>')
    .description(`set a new password and end every session of the account (${PASSWORD_NOTE})`)
    .option('--password-stdin', 'read the password from standard input')
    .option('--json', 'machine-readable output')
    .action(async (email: string, options: { json?: boolean }) => {
      const passHash = await readNewPassHash();
      const changed = await withAdmin(({ users }) => users.setPassword(email, passHash));
      print(
        options,
        userView(changed),
        () => `Password of ${changed.email} changed; its sessions have ended.`,
      );
    });
}
