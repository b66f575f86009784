import type { Command } from 'commander';
import { type AuditRecord, auditView, describeActor } from '../../core/audit.ts';
import { parseLimit, parseSince } from '../../core/audit-query.ts';
import { isoTime } from '../../core/time.ts';
import { systemClock } from '../../service/clock.ts';
import { withAdmin } from '../admin-store.ts';
import { CliError, print, table } from '../output.ts';

const DEFAULT_LIMIT = '50';

function summary(detail: AuditRecord['detail']): string {
  return Object.entries(detail)
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
}

/** A flag's value that cannot be read: the flag, what was given, and what it takes. */
function badFlag(flag: string, given: string, expected: string): CliError {
  return new CliError('invalid_input', `${JSON.stringify(given.slice(0, 80))} is not ${expected}.`, {
    field: flag,
    hint: `Give ${flag} ${expected}.`,
  });
}

export function auditCommand(program: Command): void {
  program
    .command('audit')
    .description('list the audit trail, newest first: who changed which key or account, logins and logouts')
    .option('--org <org_id>', "only this organization's events")
    .option('--since <time>', 'only events since an ISO 8601 time or a duration back from now (1h, 7d)')
    .option('--limit <n>', 'at most this many events, 1 to 500', DEFAULT_LIMIT)
    .option('--json', 'machine-readable output')
    .action(async (options: { org?: string; since?: string; limit: string; json?: boolean }) => {
      const limit = parseLimit(options.limit);
      if (!limit.ok) throw badFlag('--limit', options.limit, limit.expected);
      const since = options.since === undefined ? undefined : parseSince(options.since, systemClock());
      if (since && !since.ok) throw badFlag('--since', options.since ?? '', since.expected);
      const records = await withAdmin(async ({ keys, audit }) => {
        if (options.org !== undefined) await keys.requireOrg(options.org);
        return audit({
          limit: limit.value,
          ...(options.org !== undefined && { orgId: options.org }),
          ...(since?.ok && { since: since.value }),
        });
      });
      const data = records.map(auditView);
      print(options, data, () =>
        records.length === 0
          ? 'No audit events.'
          : table([
              ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'ORG', 'DETAIL'],
              ...records.map((record) => [
                isoTime(record.at),
                describeActor(record.actor),
                record.action,
                record.target ?? '-',
                record.orgId ?? '-',
                summary(record.detail),
              ]),
            ]),
      );
    });
}
