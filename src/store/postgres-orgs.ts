import type { AuditActor } from '../core/audit.ts';
import { newOrg } from './account-rows.ts';
import { orgCreated } from './audit-rows.ts';
import { appendEvents } from './postgres-audit.ts';
import type { PgDatabase } from './postgres-database.ts';
import { ORG_COLUMNS, toOrg } from './postgres-rows.ts';
import type { Org } from './store.ts';

// The organizations of the PostgreSQL store (Store's createOrg, getOrg, listOrgs).

export async function createOrg(
  db: PgDatabase,
  input: { name: string; singleUseTokens?: boolean },
  now: number,
  by: AuditActor,
): Promise<Org> {
  const org = newOrg(input, now);
  await db.transaction(async (sql) => {
    await sql.run('INSERT INTO orgs (id, name, single_use_tokens, created_at) VALUES ($1, $2, $3, $4)', [
      org.id,
      org.name,
      org.singleUseTokens,
      now,
    ]);
    await appendEvents(sql, [orgCreated(org, by)]);
  });
  return org;
}

export async function getOrg(db: PgDatabase, id: string): Promise<Org | undefined> {
  const row = await db.one(`SELECT ${ORG_COLUMNS} FROM orgs WHERE id = $1`, [id]);
  return row && toOrg(row);
}

export async function listOrgs(db: PgDatabase): Promise<Org[]> {
  return (await db.rows(`SELECT ${ORG_COLUMNS} FROM orgs ORDER BY created_at, id`)).map(toOrg);
}
