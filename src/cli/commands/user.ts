import type { Command } from 'commander';
import type { UserRecord } from '../../core/account-records.ts';
import type { LoginThrottleState } from '../../core/login-throttle.ts';
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
    created_at: isoTime(user.createdAt),
  };
}

function loginView(state: LoginThrottleState) {
  const at = (time: number | null) => (time === null ? null : isoTime(time));
  return {
    failures: state.failures,
    throttled_addresses: state.throttledAddresses,
    account_throttled_until: at(state.accountThrottledUntil),
    throttled_until: at(state.throttledUntil),
  };
}

/** One cell: "ok", "3 failures", or who waits until when. */
function loginSummary(state: LoginThrottleState): string {
  if (state.throttledUntil === null) return state.failures === 0 ? 'ok' : `${state.failures} failures`;
  const who = [
    ...(state.throttledAddresses > 0
      ? [`${state.throttledAddresses} address${state.throttledAddresses === 1 ? '' : 'es'}`]
      : []),
    ...(state.accountThrottledUntil !== null ? ['account-wide'] : []),
  ];
  return `throttled until ${isoTime(state.throttledUntil)} (${who.join(', ')})`;
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
      const users = await withAdmin(({ users }) => users.list(options.org));
      print(
        options,
        users.map(({ user, login }) => ({ ...userView(user), login: loginView(login) })),
        () =>
          users.length === 0
            ? 'No users yet.'
            : table([
                ['EMAIL', 'ROLE', 'STATUS', 'LOGIN', 'SCREEN NAME', 'ID'],
                ...users.map(({ user, login }) => [
                  user.email,
                  user.role,
                  user.status,
                  loginSummary(login),
                  user.screenName,
                  user.id,
                ]),
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
    .command('unlock <email>')
    .description('clear the failed logins counted against an account, from every address, and their waits')
    .option('--json', 'machine-readable output')
    .action(async (email: string, options: { json?: boolean }) => {
      const { user: unlocked, cleared } = await withAdmin(({ users }) => users.unlock(email));
      print(options, { ...userView(unlocked), cleared: loginView(cleared) }, () =>
        cleared.failures === 0 && cleared.throttledUntil === null
          ? `User ${unlocked.email} had no failed logins to clear.`
          : `User ${unlocked.email} unlocked: cleared ${loginSummary(cleared)}.`,
      );
    });
  user
    .command('set-password <email>')
    .description(
      `set a new password, end every session of the account and clear its failed logins (${PASSWORD_NOTE})`,
    )
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
