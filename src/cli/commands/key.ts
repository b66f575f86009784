import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { keyExpiry } from '../../core/key-expiry.ts';
import type { KeyRecord, KeyStatus } from '../../core/key-record.ts';
import { type KeyUsage, noUsage, refusedTotal } from '../../core/key-usage.ts';
import { isoTime, type UnixSeconds } from '../../core/time.ts';
import { systemClock } from '../../service/clock.ts';
import { withKeyAdmin } from '../admin-store.ts';
import { readUserFile } from '../io.ts';
import { cliName, print, table } from '../output.ts';

export function keyView(key: KeyRecord) {
  return {
    key_id: key.id,
    org_id: key.orgId,
    status: key.status,
    family: key.family,
    bits: key.bits,
    fingerprint: key.thumbprint,
    roles: key.roles,
    default_role: key.defaultRole,
    label: key.label,
    /** The user the key belongs to; null for a key of the organization. */
    owner_user_id: key.ownerUserId,
    expires_at: key.expiresAt === null ? null : isoTime(key.expiresAt),
    revokes_at: key.revokesAt === null ? null : isoTime(key.revokesAt),
    replaced_by: key.replacedBy,
    created_at: isoTime(key.createdAt),
    last_used_at: key.lastUsedAt === null ? null : isoTime(key.lastUsedAt),
  };
}

/** A key as `key list` shows it: its view, whether it expires soon, and its counted uses. */
function keyListView(key: KeyRecord, usage: KeyUsage, now: UnixSeconds, warningSeconds: number) {
  const view = keyView(key);
  return {
    ...view,
    ...keyExpiry(key, now, warningSeconds),
    usage: { accepted: usage.accepted, refused: usage.refused, last_used_at: view.last_used_at },
  };
}

type ListedKey = ReturnType<typeof keyListView>;

function keyTable(keys: readonly ListedKey[]): string {
  return table([
    ['KEY ID', 'STATUS', 'TYPE', 'ROLES', 'OWNER', 'ACCEPTED', 'REFUSED', 'LAST USED', 'EXPIRES', 'LABEL'],
    ...keys.map((k) => [
      k.key_id,
      k.revokes_at === null ? k.status : `${k.status} until ${k.revokes_at}`,
      `${k.family}-${k.bits}`,
      k.roles.join(','),
      k.owner_user_id ?? 'org',
      String(k.usage.accepted),
      String(refusedTotal(k.usage)),
      k.last_used_at ?? 'never',
      k.expires_at === null ? 'never' : `${k.expires_at}${k.expires_soon ? ' (soon)' : ''}`,
      k.label ?? '',
    ]),
  ]);
}

export function keyCommands(program: Command): void {
  const key = program.command('key').description('manage public keys');
  key
    .command('add')
    .description('register a public key for an organization; prints its Key ID')
    .requiredOption('--org <org_id>', 'the Organization ID')
    .requiredOption(
      '--public-key <file>',
      'PEM (SPKI or PKCS#1), OpenSSH .pub line, X.509 certificate or JWK',
    )
    .option('--roles <list>', 'comma list of roles the key may sign for (default: user,device,service)')
    .option('--default-role <role>', 'role for tokens that carry none (default: user)')
    .option('--expires-at <time>', 'ISO 8601 time after which the key stops working')
    .option('--label <label>', 'a name for the key')
    .option('--json', 'machine-readable output')
    .action(
      async (options: {
        org: string;
        publicKey: string;
        roles?: string;
        defaultRole?: string;
        expiresAt?: string;
        label?: string;
        json?: boolean;
      }) => {
        const publicKey = readUserFile(
          options.publicKey,
          'Give the path of the public key file (the .pub beside your private key).',
        );
        const registered = await withKeyAdmin((admin) =>
          admin.registerKey({
            orgId: options.org,
            publicKey,
            ...(options.roles !== undefined && { roles: options.roles.split(',') }),
            ...(options.defaultRole !== undefined && { defaultRole: options.defaultRole }),
            ...(options.expiresAt !== undefined && { expiresAt: options.expiresAt }),
            ...(options.label !== undefined && { label: options.label }),
            // The operator at the store is an administrator.
            grantedByAdmin: true,
          }),
        );
        const { host, port } = loadConfig(process.env);
        print(options, registered, () =>
          [
            `Organization ID: ${registered.org_id}`,
            `Key ID:          ${registered.key_id}`,
            `Fingerprint:     ${registered.fingerprint}`,
            `Algorithms:      ${registered.algorithms.join(', ')}`,
            `Roles:           ${registered.roles.join(', ')} (default ${registered.default_role})`,
            `Next: sign a token with the private key and check it`,
            `  ${cliName()} token --key my.key --org ${registered.org_id} --kid ${registered.key_id} --sub alice > token.txt`,
            `  ${cliName()} hello --url http://${host}:${port} < token.txt`,
          ].join('\n'),
        );
      },
    );
  key
    .command('list')
    .description("list an organization's keys")
    .requiredOption('--org <org_id>', 'the Organization ID')
    .option('--json', 'machine-readable output')
    .action(async (options: { org: string; json?: boolean }) => {
      const warningSeconds = loadConfig(process.env).keyExpiryWarningDays * 86400;
      const keys = await withKeyAdmin(async (admin) => {
        const records = await admin.listKeys(options.org);
        const usage = await admin.keyUsage(records.map((record) => record.id));
        const now = systemClock();
        return records.map((record) =>
          keyListView(record, usage.get(record.id) ?? noUsage(), now, warningSeconds),
        );
      });
      print(options, keys, () => (keys.length === 0 ? 'No keys yet.' : keyTable(keys)));
    });
  const statusCommand = (name: string, status: KeyStatus, description: string) =>
    key
      .command(`${name} <kid>`)
      .description(description)
      .option('--json', 'machine-readable output')
      .action(async (kid: string, options: { json?: boolean }) => {
        const changed = await withKeyAdmin((admin) => admin.setKeyStatus(kid, status));
        print(options, keyView(changed), () => `Key ${changed.id} is now ${changed.status}.`);
      });
  statusCommand('revoke', 'revoked', 'revoke a key for good; its tokens stop working at once');
  statusCommand('disable', 'disabled', 'stop a key from working until it is enabled again');
  statusCommand('enable', 'active', 'let a disabled key work again');
}
