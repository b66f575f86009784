import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Row } from '../harness.ts';
import { type Fixture, makeFixture, WHOAMI } from './fixture.ts';
import { eachOnce, perConnection } from './load.ts';
import { interleave, type Load, Series } from './series.ts';
import { type Launch, type Server, startKeygate } from './servers.ts';
import { bearer, freshRounds, ROUNDS, signFreshWarmUp } from './token-sets.ts';
import { signTokens } from './tokens.ts';
import { warmUp } from './warm-up.ts';

/** Fresh tokens per round of each server: about a second at the rate of one node. */
const FRESH_PER_ROUND = 4000;

type RowOf = (name: string, series: Series, base: Series, baseLabel: string) => Row;

/**
 * A node on PostgreSQL, and one on PostgreSQL with Redis, against the SQLite node already running
 * and warmed up: warm tokens and fresh RS256-2048 tokens, interleaved, each new node warmed up
 * first as the SQLite node was (unwarmed, the PostgreSQL node read 0.48x of the SQLite node on
 * fresh tokens, its rounds climbing 3.9k, 6.1k, 5.3k, 7.7k, 8.1k a second). They run where KEYGATE_TEST_DATABASE_URL
 * names a PostgreSQL server to create a database on (and KEYGATE_TEST_REDIS_URL a Redis, for the
 * second node); the database and the Redis keys are the run's own and are dropped after.
 */
export async function distributedRows(
  launch: Launch,
  sqlite: Server,
  sqliteFixture: Fixture,
  sqliteWarm: readonly string[],
  dir: string,
  port: number,
  row: RowOf,
): Promise<{ rows: Row[]; note?: string }> {
  const adminUrl = process.env.KEYGATE_TEST_DATABASE_URL;
  if (!adminUrl) return { rows: [], note: 'PostgreSQL rows left out: KEYGATE_TEST_DATABASE_URL is not set.' };
  const redisUrl = process.env.KEYGATE_TEST_REDIS_URL;
  const name = `keygate_bench_${randomBytes(6).toString('hex')}`;
  const prefix = `${name}:`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const servers: Server[] = [];
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const postgres: Launch = { ...launch, database: url.href };
    const fixture = await makeFixture(dir, url.href);
    const rsa = fixture.keys['RS256-2048'];
    const warm = bearer(await signTokens(rsa, fixture.orgId, sqliteWarm.length));
    const nodes: { label: string; server: Server; fresh: string[][] }[] = [
      { label: 'SQLite', server: sqlite, fresh: await freshRounds(sqliteFixture, FRESH_PER_ROUND) },
    ];
    // Nodes on one PostgreSQL share the secret that seals session keys.
    const secretFile = join(dir, 'postgres-nodes.secret');
    writeFileSync(secretFile, randomBytes(32), { mode: 0o600 });
    const pgNode = await startKeygate(postgres, port, [], { KEYGATE_SECRET_FILE: secretFile });
    servers.push(pgNode);
    nodes.push({ label: 'PostgreSQL', server: pgNode, fresh: await freshRounds(fixture, FRESH_PER_ROUND) });
    if (redisUrl) {
      const env = {
        KEYGATE_SECRET_FILE: secretFile,
        KEYGATE_REDIS_URL: redisUrl,
        KEYGATE_REDIS_PREFIX: prefix,
      };
      const redisNode = await startKeygate(postgres, port + 1, [], env);
      servers.push(redisNode);
      nodes.push({
        label: 'PostgreSQL + Redis',
        server: redisNode,
        fresh: await freshRounds(fixture, FRESH_PER_ROUND),
      });
    }
    // Each node new, warmed up as the SQLite node was before its own rows (its warm-up holds).
    for (const { server } of nodes.slice(1))
      await warmUp(server, { warm, fresh: [await signFreshWarmUp(fixture)] });
    const series = nodes.map((node) => ({
      ...node,
      warm: new Series(node.server),
      freshS: new Series(node.server),
    }));
    const loads: Load[] = series.flatMap((node) => [
      {
        series: node.warm,
        path: WHOAMI,
        source: () => perConnection(node.label === 'SQLite' ? sqliteWarm : warm, 1),
        expect: 200,
      },
      {
        series: node.freshS,
        path: WHOAMI,
        source: (i: number) => eachOnce(node.fresh[i] ?? []),
        expect: 200,
      },
    ]);
    await interleave(loads, ROUNDS);
    const [base, ...others] = series;
    if (!base) return { rows: [] };
    return {
      rows: others.flatMap((node) => [
        row(`GET ${WHOAMI}, warm tokens, node on ${node.label}`, node.warm, base.warm, 'SQLite node'),
        row(
          `GET ${WHOAMI}, fresh RS256-2048, node on ${node.label}`,
          node.freshS,
          base.freshS,
          'SQLite node',
        ),
      ]),
      ...(!redisUrl && { note: 'The Redis row is left out: KEYGATE_TEST_REDIS_URL is not set.' }),
    };
  } finally {
    for (const server of servers) await server.stop();
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    if (redisUrl) await deleteKeys(redisUrl, prefix);
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
