import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, measure, median, printTable, type Row } from './harness.ts';
import { type Fixture, type KeyKind, makeFixture } from './http/fixture.ts';
import { eachOnce, fire, perConnection } from './http/load.ts';
import { paced } from './http/paced.ts';
import { interleave, type Load, Series } from './http/series.ts';
import { readyTimes, type Server, startKeygate, startReference } from './http/servers.ts';
import { sessionTokens } from './http/sessions.ts';
import { badSignatures, malformed, signTokens } from './http/tokens.ts';
import { verifierVariants } from './verify.ts';

/** Every row runs this many rounds, interleaved with its comparison rows; the table shows medians. */
const ROUNDS = 3;
/** Length of one round of the rows that reuse their requests (/healthz, warm and session tokens). */
const ROUND_SECONDS = 1;
/**
 * Tokens per round of each fresh-token row: about a second at the rate the issue measured
 * (RS256-2048 ~5.7k/s, RS256-4096 ~4k/s). RSA-4096 signing, at a few hundred a second per
 * core, is what bounds these sets: the benchmark must stay within a few minutes.
 */
const FRESH: { kind: KeyKind; perRound: number; target: number }[] = [
  { kind: 'RS256-2048', perRound: 6000, target: 1.3 },
  { kind: 'RS256-4096', perRound: 4000, target: 1.5 },
  { kind: 'ES256', perRound: 6000, target: 1.3 },
];
/** Requests per round of the invalid-token rows, each token new to the server. */
const INVALID_PER_ROUND = 8000;
/** Tokens sent at half the measured maximum: a few seconds' worth. */
const PACED_TOKENS = 9000;
const WARM_UP_TOKENS = 300;
const P99_CEILING_MS = 5;
const IDLE_RSS_CEILING_MB = 80;
const READY_CEILING_MS = 300;
const READY_STARTS = 5;

const bearer = (tokens: string[]) => tokens.map((token) => `Bearer ${token}`);

type Sets = Awaited<ReturnType<typeof signSets>>;

/** Every token the timed part sends, signed before it starts. */
async function signSets(fixture: Fixture) {
  const { orgId, keys } = fixture;
  const rounds = async (kind: KeyKind, perRound: number) => {
    const all = bearer(await signTokens(keys[kind], orgId, perRound * ROUNDS));
    return Array.from({ length: ROUNDS }, (_, i) => all.slice(i * perRound, (i + 1) * perRound));
  };
  const fresh = {} as Record<KeyKind, { keygate: string[][]; reference: string[][]; warmUp: string[] }>;
  for (const { kind, perRound } of FRESH) {
    fresh[kind] = {
      keygate: await rounds(kind, perRound),
      // Keygate accepts a token's jti once: the reference gets a set of its own, of the same size.
      reference: await rounds(kind, perRound),
      warmUp: bearer(await signTokens(keys[kind], orgId, WARM_UP_TOKENS)),
    };
  }
  const unknownAll = bearer(await signTokens(keys.ES256, orgId, INVALID_PER_ROUND * ROUNDS, 'random'));
  const badAll = bearer(badSignatures(keys['RS256-2048'], orgId, INVALID_PER_ROUND * ROUNDS));
  const perRound = (all: string[]) =>
    Array.from({ length: ROUNDS }, (_, i) => all.slice(i * INVALID_PER_ROUND, (i + 1) * INVALID_PER_ROUND));
  return {
    fresh,
    warm: bearer(await signTokens(keys['RS256-2048'], orgId, 50)),
    paced: bearer(await signTokens(keys['RS256-2048'], orgId, PACED_TOKENS)),
    unknownKid: perRound(unknownAll),
    badSignature: perRound(badAll),
    malformed: `Bearer ${malformed(keys['RS256-2048'], orgId)}`,
  };
}

async function warmUp(server: Server, sets: Sets, warm?: string[]): Promise<void> {
  await fire(`${server.url}/healthz`, { duration: 1 }, 200);
  if (warm) await fire(`${server.url}/v1/whoami`, perConnection(warm, 1), 200);
  for (const { kind } of FRESH) await fire(`${server.url}/v1/whoami`, eachOnce(sets.fresh[kind].warmUp), 200);
}

const perSecond = (rate: number) => `${fmt(rate).replace('/s', '')} req/s`;

function vs(label: string, series: Series, base: Series, baseLabel: string, target?: number): Row {
  return {
    case: label,
    value: perSecond(series.rate),
    extra: series.cells(),
    baseline: `${baseLabel} ${perSecond(base.rate)}`,
    ratio: series.rate / base.rate,
    ...(target !== undefined && { target }),
  };
}

/** `npm run bench -- http`: Keygate's HTTP server against Fastify's ceiling and a jose-based reference. */
export async function benchHttp(): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-http-bench-'));
  const database = join(dir, 'keygate.db');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const servers: Server[] = [];
  const loadBefore = loadavg()[0] as number;
  try {
    const fixture = await makeFixture(dir, database);
    const signing = performance.now();
    const sets = await signSets(fixture);
    const signSeconds = (performance.now() - signing) / 1000;
    const ready = await readyTimes(database, port + 10, READY_STARTS);
    const keygate = await startKeygate(database, port);
    servers.push(keygate);
    // Let start-up garbage be collected before reading the idle size.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleRss = keygate.rssMb();
    const reference = await startReference(fixture.referenceKeys, port + 1);
    servers.push(reference);
    const sessions = await sessionTokens(keygate.url, 50);
    await warmUp(keygate, sets, sets.warm);
    await warmUp(reference, sets);

    const timed = (seconds: number) => () => ({ duration: seconds });
    const s = {
      healthz: new Series(keygate),
      referenceHealthz: new Series(reference),
      warm: new Series(keygate),
      session: new Series(keygate),
      malformed: new Series(keygate),
      badSignature: new Series(keygate),
      unknownKid: new Series(keygate),
    };
    const loads: Load[] = [
      { series: s.healthz, path: '/healthz', source: timed(ROUND_SECONDS), expect: 200 },
      { series: s.referenceHealthz, path: '/healthz', source: timed(ROUND_SECONDS), expect: 200 },
      {
        series: s.warm,
        path: '/v1/whoami',
        source: () => perConnection(sets.warm, ROUND_SECONDS),
        expect: 200,
      },
      {
        series: s.session,
        path: '/v1/whoami',
        source: () => perConnection(sessions, ROUND_SECONDS),
        expect: 200,
      },
      {
        series: s.malformed,
        path: '/v1/whoami',
        source: () => ({ duration: ROUND_SECONDS, headers: { authorization: sets.malformed } }),
        expect: 401,
      },
      {
        series: s.badSignature,
        path: '/v1/whoami',
        source: (round) => eachOnce(sets.badSignature[round] as string[]),
        expect: 401,
      },
      {
        series: s.unknownKid,
        path: '/v1/whoami',
        source: (round) => eachOnce(sets.unknownKid[round] as string[]),
        expect: 401,
      },
    ];
    await interleave(loads, ROUNDS);

    const freshRows: Row[] = [];
    let pacedRow: Row | undefined;
    let fresh2048: Series | undefined;
    for (const { kind, target } of FRESH) {
      const k = new Series(keygate);
      const r = new Series(reference);
      const set = sets.fresh[kind];
      await interleave(
        [
          {
            series: k,
            path: '/v1/whoami',
            source: (round) => eachOnce(set.keygate[round] as string[]),
            expect: 200,
          },
          {
            series: r,
            path: '/v1/whoami',
            source: (round) => eachOnce(set.reference[round] as string[]),
            expect: 200,
          },
        ],
        ROUNDS,
      );
      freshRows.push(
        vs(`GET /v1/whoami, fresh ${kind} tokens: Keygate`, k, r, 'reference', target),
        vs(`GET /v1/whoami, fresh ${kind} tokens: reference (jose)`, r, r, 'itself'),
      );
      if (kind !== 'RS256-2048') continue;
      fresh2048 = k;
      // Right after the maximum was measured, on the same warm server.
      const half = new Series(keygate);
      half.add(await paced(`${keygate.url}/v1/whoami`, sets.paced, k.rate / 2, 200));
      pacedRow = {
        case: 'fresh RS256-2048 at half the maximum rate, evenly paced: p99',
        value: perSecond(half.rate),
        extra: half.cells(),
        baseline: `ceiling ${P99_CEILING_MS} ms (ratio = ceiling / p99)`,
        ratio: P99_CEILING_MS / half.p(99),
        target: 1,
      };
    }
    for (const server of servers.splice(0)) await server.stop();

    // In process, with both servers stopped: the verifier alone against OpenSSL through node:crypto.
    const v = await verifierVariants(2048, 2000);
    const verifier = await measure([v.raw, v.keygate], { rounds: 7, opsPerRound: 2000 });
    await v.close();
    const rawOps = verifier.get('raw')?.median ?? 0;
    const keygateOps = verifier.get('keygate')?.median ?? 0;
    const readyMs = median(ready);

    const rows: Row[] = [
      {
        case: 'idle RSS of keygate serve (after start, before any load)',
        value: `${idleRss.toFixed(1)} MB`,
        baseline: `ceiling ${IDLE_RSS_CEILING_MB} MB (ratio = ceiling / RSS)`,
        ratio: IDLE_RSS_CEILING_MB / idleRss,
        target: 1,
      },
      {
        case: `ready time: spawn to first /healthz answer (median of ${READY_STARTS})`,
        value: `${readyMs.toFixed(0)} ms`,
        baseline: `ceiling ${READY_CEILING_MS} ms (ratio = ceiling / time)`,
        ratio: READY_CEILING_MS / readyMs,
        target: 1,
      },
      vs('GET /healthz: Keygate', s.healthz, s.referenceHealthz, 'bare Fastify /healthz'),
      vs('GET /healthz: bare Fastify (reference server)', s.referenceHealthz, s.referenceHealthz, 'itself'),
      vs(
        'GET /v1/whoami, warm key-pair tokens (one per connection)',
        s.warm,
        s.healthz,
        'Keygate /healthz',
        0.9,
      ),
      vs('GET /v1/whoami, session tokens (one per connection)', s.session, s.healthz, 'Keygate /healthz'),
      ...freshRows,
      ...(pacedRow ? [pacedRow] : []),
      vs('GET /v1/whoami, malformed token (401)', s.malformed, s.healthz, 'Keygate /healthz'),
      ...(fresh2048
        ? [
            vs(
              'GET /v1/whoami, bad RS256-2048 signature, registered kid (401)',
              s.badSignature,
              fresh2048,
              'fresh RS256-2048',
            ),
          ]
        : []),
      vs(
        'GET /v1/whoami, flood of unknown random kids (401)',
        s.unknownKid,
        s.healthz,
        'Keygate /healthz',
        0.8,
      ),
      {
        case: 'in process: Keygate verifier, fresh RS256-2048',
        value: fmt(keygateOps),
        baseline: `raw crypto.verify ${fmt(rawOps)}`,
        ratio: keygateOps / rawOps,
        target: 0.85,
      },
    ];
    process.stdout.write(
      `HTTP: autocannon in this process, ${50} connections, ${ROUNDS} interleaved rounds per row; ` +
        `${availableParallelism()} cores; load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] as number).toFixed(2)} after; ` +
        `token sets signed beforehand in ${signSeconds.toFixed(0)} s.\n\n`,
    );
    return printTable('HTTP throughput (server in its own process)', rows, {
      measured: 'measured',
      extra: ['p50', 'p99', 'server RSS after'],
    });
  } finally {
    for (const server of servers) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
