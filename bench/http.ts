import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, jsonFromProcess, median, perSecond, printTable, type Row, ratioText } from './harness.ts';
import { distributedRows } from './http/distributed.ts';
import { type Fixture, makeFixture, WHOAMI } from './http/fixture.ts';
import { ledgerCpuUs, verifyCpuUs, withLoopWork } from './http/floor.ts';
import { halfRateRows } from './http/half-rate.ts';
import { stopGenerator } from './http/in-child.ts';
import { CONNECTIONS, eachOnce, perConnection, repeat } from './http/load.ts';
import { interleave, Series } from './http/series.ts';
import {
  bareFastifyReadyTimes,
  benchPort,
  DEPLOYED_ENV,
  type Launch,
  packagedKeygate,
  readyTimes,
  referenceReadyTimes,
  type Server,
  SOURCES_MAIN,
  startBareFastify,
  startKeygate,
  startReference,
  startSignatureOnly,
} from './http/servers.ts';
import { sessionTokens } from './http/sessions.ts';
import { FRESH, FRESH_ROUNDS, REQUEST_ROUNDS, ROUNDS, signSets, type TokenSets } from './http/token-sets.ts';
import { type WarmUp, warmUp } from './http/warm-up.ts';
import { workerRows } from './http/workers.ts';

/** Length of one round of the rows that reuse their requests (/healthz, warm and session tokens). */
const ROUND_SECONDS = 1;
const IDLE_RSS_CEILING_MB = 80;
const READY_CEILING_MS = 300;
const READY_STARTS = 5;
const FORWARD_AUTH = '/auth/verify';
const VERIFIER_PROCESS = new URL('./http/verifier-process.ts', import.meta.url).pathname;

function vs(label: string, series: Series, base: Series, baseLabel: string, target?: number): Row {
  const spread = series.roundRatios(base);
  return {
    case: label,
    value: perSecond(series.rate),
    extra: series.cells(),
    baseline: `${baseLabel} ${perSecond(base.rate)}${
      spread ? ` (round by round ${ratioText(spread[0])}-${ratioText(spread[1])})` : ''
    }`,
    ratio: series.rate / base.rate,
    ...(target !== undefined && { target }),
  };
}

/** A lower-is-better figure against its ceiling: the ratio is ceiling / measured, so >= 1 passes. */
function underCeiling(label: string, value: number, ceiling: number, unit: string): Row {
  return {
    case: label,
    value: `${value.toFixed(unit === 'MB' ? 1 : 0)} ${unit}`,
    baseline: `ceiling ${ceiling} ${unit} (ratio = ceiling / measured)`,
    ratio: ceiling / value,
    target: 1,
  };
}

/** What every server that answers fresh tokens is sent before it is measured (warm-up.ts). */
function warmUpSets(sets: TokenSets): WarmUp['fresh'] {
  return [sets.freshWarmUp, ...FRESH.map(({ kind }) => sets.fresh[kind].warmUp)];
}

/** The rows that reuse one server's requests or refuse them, interleaved with both /healthz rows. */
async function requestRows(keygate: Server, reference: Server, sets: TokenSets, sessions: string[]) {
  const s = {
    healthz: new Series(keygate),
    bareHealthz: new Series(reference),
    warm: new Series(keygate),
    forwardAuth: new Series(keygate),
    session: new Series(keygate),
    malformed: new Series(keygate),
    duplicateClaim: new Series(keygate),
    badSignature: new Series(keygate),
    unknownKid: new Series(keygate),
  };
  const forSeconds = () => repeat(ROUND_SECONDS);
  await interleave(
    [
      { series: s.healthz, path: '/healthz', source: forSeconds, expect: 200 },
      { series: s.bareHealthz, path: '/healthz', source: forSeconds, expect: 200 },
      { series: s.warm, path: WHOAMI, source: () => perConnection(sets.warm, ROUND_SECONDS), expect: 200 },
      {
        series: s.forwardAuth,
        path: FORWARD_AUTH,
        source: () => perConnection(sets.warm, ROUND_SECONDS),
        expect: 200,
      },
      { series: s.session, path: WHOAMI, source: () => perConnection(sessions, ROUND_SECONDS), expect: 200 },
      {
        series: s.malformed,
        path: WHOAMI,
        source: () => repeat(ROUND_SECONDS, sets.malformed),
        expect: 401,
      },
      {
        series: s.duplicateClaim,
        path: WHOAMI,
        source: () => repeat(ROUND_SECONDS, sets.duplicateClaim),
        expect: 401,
      },
      {
        series: s.badSignature,
        path: WHOAMI,
        source: (i) => eachOnce(sets.badSignature[i] ?? []),
        expect: 401,
      },
      { series: s.unknownKid, path: WHOAMI, source: (i) => eachOnce(sets.unknownKid[i] ?? []), expect: 401 },
    ],
    REQUEST_ROUNDS,
  );
  return s;
}

/**
 * Fresh tokens on Keygate, on the reference, on the signature-only server, on the same with
 * Keygate's replay ledger and on the spec floor (the ledger server also checking every claim and
 * answering in the spec's envelope), key kind by key kind, the five interleaved. The
 * signature-only server keeps no ledger, so the reference's tokens are fresh to it too; the ledger
 * server and the spec floor bind in databases of their own, so Keygate's are fresh to them.
 */
async function freshRows(
  servers: Record<'keygate' | 'reference' | 'signatureOnly' | 'signatureLedger' | 'specFloor', Server>,
  sets: TokenSets,
  fixture: Fixture,
  ledger: { us: number; pastBoundUs: number },
) {
  const { keygate, reference, signatureOnly, signatureLedger, specFloor } = servers;
  const rows: Row[] = [];
  const series = {} as Record<(typeof FRESH)[number]['kind'], Series>;
  for (const { kind, target } of FRESH) {
    const k = new Series(keygate);
    const r = new Series(reference);
    const floor = new Series(signatureOnly);
    const ledgered = new Series(signatureLedger);
    const spec = new Series(specFloor);
    const set = sets.fresh[kind];
    await interleave(
      [
        { series: k, path: WHOAMI, source: (i) => eachOnce(set.keygate[i] ?? []), expect: 200 },
        { series: r, path: WHOAMI, source: (i) => eachOnce(set.reference[i] ?? []), expect: 200 },
        { series: floor, path: WHOAMI, source: (i) => eachOnce(set.reference[i] ?? []), expect: 200 },
        { series: ledgered, path: WHOAMI, source: (i) => eachOnce(set.keygate[i] ?? []), expect: 200 },
        { series: spec, path: WHOAMI, source: (i) => eachOnce(set.keygate[i] ?? []), expect: 200 },
      ],
      FRESH_ROUNDS,
    );
    series[kind] = k;
    const verifyUs = verifyCpuUs(fixture.keys[kind], set.warmUp);
    const outOfReach = (ratio: number) =>
      ratio < target ? ` (so the ${target}x target is out of reach here)` : '';
    rows.push(
      vs(`GET ${WHOAMI}, fresh ${kind} tokens: Keygate`, k, r, 'reference', target),
      vs(`GET ${WHOAMI}, fresh ${kind} tokens: reference (jose)`, r, r, 'itself'),
      vs(
        `GET ${WHOAMI}, fresh ${kind} tokens: a server that checks the signature only (Fastify + ` +
          `crypto.verify, batched per turn; no claims, no ledger; one bare crypto.verify ` +
          `${verifyUs.toFixed(0)} us)${outOfReach(floor.rate / r.rate)}`,
        floor,
        r,
        'reference',
      ),
      // Keygate binds every fresh token's jti durably (DESIGN.md); neither server above keeps a ledger.
      vs(
        `GET ${WHOAMI}, fresh ${kind} tokens: the same server binding each jti in Keygate's replay ` +
          `ledger before it answers (embedded store, checkpoint thread; still no claims)` +
          outOfReach(ledgered.rate / r.rate),
        ledgered,
        r,
        'reference',
      ),
      // What the spec itself asks beyond the signature and the ledger, with Keygate's own code:
      // Keygate's rate above it is what its own additions cost (security headers, request ids,
      // the verified-token cache, the counters, the key directory).
      vs(
        `GET ${WHOAMI}, fresh ${kind} tokens: the spec floor, the ledger server also checking ` +
          "every claim as Keygate does (strict parse, the key-pair check table) and answering in the spec's " +
          `envelope with debug_info; no security headers, caches or counters${outOfReach(spec.rate / r.rate)}`,
        spec,
        r,
        'reference',
      ),
      { ...vs(`fresh ${kind}: Keygate against the spec floor`, k, spec, 'the spec floor'), extra: [] },
    );
    if (kind === 'RS256-2048') {
      // The rows above bind within the memory's bound (KEYGATE_RECENT_JTI_ENTRIES); a server
      // binding fresh tokens faster than they expire for long enough is past it.
      const pastBound = withLoopWork(ledgered.rate, ledger.pastBoundUs - ledger.us);
      rows.push({
        case:
          `fresh ${kind}: the ledger server with the ledger's memory full, each binding later moved ` +
          `to its index on disk (${ledger.pastBoundUs.toFixed(0)} against ${ledger.us.toFixed(0)} us ` +
          'a binding, measured alone)',
        value: perSecond(pastBound),
        baseline: `reference ${perSecond(r.rate)}`,
        ratio: pastBound / r.rate,
      });
      const maxima = { keygate: k.rate, reference: r.rate, floor: floor.rate };
      rows.push(...(await halfRateRows({ keygate, reference, floor: signatureOnly }, sets, maxima)));
    }
  }
  return { rows, series };
}

/** In process, with the servers stopped: the verifier alone against OpenSSL through node:crypto. */
async function verifierRows(): Promise<Row[]> {
  const { raw, keygate, parse, checks } =
    await jsonFromProcess<Record<'raw' | 'keygate' | 'parse' | 'checks', number>>(VERIFIER_PROCESS);
  const us = (opsPerSecond: number) => `${(1e6 / opsPerSecond).toFixed(2)} us`;
  // What no verifier that parses and checks as strictly could beat: the signature, then the
  // parse and the checks each measured alone; the rest of the gap is the verifier's own.
  const bound = 1 / (1 / raw + 1 / parse + 1 / checks);
  return [
    {
      case: 'in process: Keygate verifier, fresh RS256-2048',
      value: fmt(keygate),
      baseline: `raw crypto.verify ${fmt(raw)}`,
      ratio: keygate / raw,
      target: 0.85,
    },
    {
      case:
        `in process: the most a verifier could do with Keygate's strict parse (${us(parse)}) and ` +
        `checks (${us(checks)}) beside crypto.verify (${us(raw)}), each measured alone`,
      value: fmt(bound),
      baseline: `raw crypto.verify ${fmt(raw)}`,
      ratio: bound / raw,
    },
  ];
}

/**
 * Ready times of the package, started as deploy/ starts it, and of Fastify alone
 * (bench/reference/bare-fastify.js): READY_STARTS each, one of each in turn, so that a busy spell
 * of the shared machine falls on both (taken one after the other, five of each, the same code
 * read 306 against 268 ms in one run and 303 against 363 in the next). Each after one start
 * that fills its compile cache, as every start after a deployment's first finds it. Then bare
 * Fastify's RSS one second after it first answers, as Keygate's is taken.
 */
async function startsInTurn(
  launch: Launch,
  dir: string,
  port: number,
): Promise<{ ready: number; bareFastifyReady: number; bareIdleRss: number }> {
  const cache = join(dir, 'bare-fastify-cache');
  await readyTimes(launch, port, 1, DEPLOYED_ENV);
  await bareFastifyReadyTimes(port + 1, 1, cache);
  const keygate: number[] = [];
  const bare: number[] = [];
  for (let i = 1; i <= READY_STARTS; i++) {
    keygate.push(...(await readyTimes(launch, port + 2 * i, 1, DEPLOYED_ENV)));
    bare.push(...(await bareFastifyReadyTimes(port + 2 * i + 1, 1, cache)));
  }
  const bareServer = await startBareFastify(port + 2 * READY_STARTS + 2, cache);
  return {
    ready: median(keygate),
    bareFastifyReady: median(bare),
    bareIdleRss: await idleRss(bareServer, 'stop'),
  };
}

/**
 * The checkout's sources, as `npm start` runs them (the rows run the package, as deploy/ does):
 * ready time over READY_STARTS starts and RSS one second after the first answer, as the package's.
 */
async function sourcesStart(database: string, port: number): Promise<{ ready: number; idleRss: number }> {
  const sources: Launch = { main: SOURCES_MAIN, database };
  const ready = median(await readyTimes(sources, port, READY_STARTS, DEPLOYED_ENV));
  return { ready, idleRss: await idleRss(await startKeygate(sources, port + READY_STARTS), 'stop') };
}

/**
 * A server's RSS one second after its first answer, start-up garbage collected and no load yet;
 * with 'stop', a server started only to be read is stopped after.
 */
async function idleRss(server: Server, then?: 'stop'): Promise<number> {
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return server.rssMb();
  } finally {
    if (then === 'stop') await server.stop();
  }
}

/** `npm run bench -- http`: Keygate's HTTP server against Fastify's ceiling and a jose-based reference. */
export async function benchHttp(): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-http-bench-'));
  const database = join(dir, 'keygate.db');
  const port = benchPort();
  const servers: Server[] = [];
  const loadBefore = loadavg()[0] as number;
  try {
    const fixture = await makeFixture(dir, database);
    const signing = performance.now();
    const sets = await signSets(fixture);
    const signSeconds = (performance.now() - signing) / 1000;
    const ledger = await ledgerCpuUs();
    const launch: Launch = { main: packagedKeygate(join(dir, 'package')), database };
    const sources = await sourcesStart(database, port + 50);
    const { ready, bareFastifyReady, bareIdleRss } = await startsInTurn(launch, dir, port + 60);
    // Plain `keygate serve`, without deploy/'s environment: it restarts itself under the memory settings.
    const plainReady = median(await readyTimes(launch, port + 30, READY_STARTS));
    const referenceReady = median(await referenceReadyTimes(fixture.referenceKeys, port + 20, READY_STARTS));
    const keygate = await startKeygate(launch, port);
    servers.push(keygate);
    const keygateIdleRss = await idleRss(keygate);
    const reference = await startReference(fixture.referenceKeys, port + 1);
    servers.push(reference);
    const referenceIdleRss = await idleRss(reference);
    const sessions = await sessionTokens(keygate.url, CONNECTIONS);
    await warmUp(keygate, {
      warm: sets.warm,
      forwardAuth: FORWARD_AUTH,
      unknownKids: sets.unknownKidWarmUp,
      fresh: warmUpSets(sets),
    });
    await warmUp(reference, { fresh: warmUpSets(sets) });
    const signatureOnly = await startSignatureOnly(fixture.referenceKeys, port + 5);
    servers.push(signatureOnly);
    await warmUp(signatureOnly, { fresh: warmUpSets(sets) });
    const signatureLedger = await startSignatureOnly(fixture.referenceKeys, port + 6, {
      db: join(dir, 'ledger.db'),
    });
    servers.push(signatureLedger);
    await warmUp(signatureLedger, { fresh: warmUpSets(sets) });
    const specFloor = await startSignatureOnly(fixture.referenceKeys, port + 7, {
      db: join(dir, 'spec.db'),
      checks: true,
    });
    servers.push(specFloor);
    await warmUp(specFloor, { fresh: warmUpSets(sets) });
    const s = await requestRows(keygate, reference, sets, sessions);
    const fresh = await freshRows(
      { keygate, reference, signatureOnly, signatureLedger, specFloor },
      sets,
      fixture,
      ledger,
    );
    const workers = await workerRows(keygate, launch, port + 2, fixture, sets.warm, vs);
    const distributed = await distributedRows(launch, keygate, fixture, sets.warm, dir, port + 3, vs);
    for (const server of servers.splice(0)) await server.stop();
    const rows: Row[] = [
      underCeiling(
        'idle RSS of keygate serve from the package (bundled dist/, as deploy/ runs it; after start, before any load)',
        keygateIdleRss,
        IDLE_RSS_CEILING_MB,
        'MB',
      ),
      underCeiling(
        `ready: the package, spawn to first /healthz answer, started as deploy/ starts it (median of ${READY_STARTS}, in turn with bare Fastify's, compile cache warm)${
          bareFastifyReady > READY_CEILING_MS
            ? ' (bare Fastify takes longer: so the ceiling is out of reach here)'
            : ''
        }`,
        ready,
        READY_CEILING_MS,
        'ms',
      ),
      {
        case: `ready: this checkout's TypeScript sources (bin/keygate.js as \`npm start\` runs it), started as deploy/ starts Keygate (median of ${READY_STARTS})`,
        value: `${sources.ready.toFixed(0)} ms`,
        baseline: `the package ${ready.toFixed(0)} ms (ratio = package / sources)`,
        ratio: ready / sources.ready,
      },
      {
        case: "idle RSS of this checkout's TypeScript sources, measured the same way",
        value: `${sources.idleRss.toFixed(1)} MB`,
        baseline: `the package ${keygateIdleRss.toFixed(1)} MB (ratio = package / sources)`,
        ratio: keygateIdleRss / sources.idleRss,
      },
      {
        case: `ready: plain \`keygate serve\`, which restarts itself under the memory settings (median of ${READY_STARTS})`,
        value: `${plainReady.toFixed(0)} ms`,
        baseline: `as deployed ${ready.toFixed(0)} ms (ratio = deployed / plain)`,
        ratio: ready / plainReady,
      },
      // What a server written without Keygate needs here: the floor the two ceilings sit on.
      {
        case: 'idle RSS of the reference server (Fastify + jose), measured the same way',
        value: `${referenceIdleRss.toFixed(1)} MB`,
        baseline: `Keygate ${keygateIdleRss.toFixed(1)} MB (ratio = reference / Keygate)`,
        ratio: referenceIdleRss / keygateIdleRss,
      },
      {
        case: `ready: the reference server, spawn to first /healthz answer (median of ${READY_STARTS})`,
        value: `${referenceReady.toFixed(0)} ms`,
        baseline: `Keygate ${ready.toFixed(0)} ms (ratio = reference / Keygate)`,
        ratio: referenceReady / ready,
      },
      // The least any Fastify server takes here: how far below it the two ceilings leave room.
      {
        case: 'idle RSS of bare Fastify answering /healthz (plain JavaScript, started as Keygate is, compile cache warm)',
        value: `${bareIdleRss.toFixed(1)} MB`,
        baseline: `Keygate ${keygateIdleRss.toFixed(1)} MB (ratio = bare / Keygate)`,
        ratio: bareIdleRss / keygateIdleRss,
      },
      {
        case: `ready: bare Fastify, spawn to first /healthz answer (median of ${READY_STARTS}, in turn with Keygate's, compile cache warm)`,
        value: `${bareFastifyReady.toFixed(0)} ms`,
        baseline: `Keygate ${ready.toFixed(0)} ms (ratio = bare / Keygate)`,
        ratio: bareFastifyReady / ready,
      },
      vs('GET /healthz: Keygate', s.healthz, s.bareHealthz, 'bare Fastify'),
      vs('GET /healthz: bare Fastify (the reference server)', s.bareHealthz, s.bareHealthz, 'itself'),
      vs(
        `GET ${WHOAMI}, warm key-pair tokens (one per connection)`,
        s.warm,
        s.healthz,
        'Keygate /healthz',
        0.9,
      ),
      // The same tokens and the same guard as the row above; the principal goes in headers, not a body.
      vs(`GET ${FORWARD_AUTH}, warm tokens`, s.forwardAuth, s.warm, `warm ${WHOAMI}`, 0.9),
      vs(`GET ${WHOAMI}, session tokens (one per connection)`, s.session, s.healthz, 'Keygate /healthz'),
      ...fresh.rows,
      vs(`GET ${WHOAMI}, malformed token (401)`, s.malformed, s.healthz, 'Keygate /healthz'),
      vs(
        `GET ${WHOAMI}, a claim named twice in the payload (401)`,
        s.duplicateClaim,
        s.healthz,
        'Keygate /healthz',
      ),
      vs(
        `GET ${WHOAMI}, bad RS256-2048 signature, registered kid (401)`,
        s.badSignature,
        fresh.series['RS256-2048'],
        'fresh RS256-2048',
      ),
      vs(
        `GET ${WHOAMI}, flood of unknown random kids (401)`,
        s.unknownKid,
        s.healthz,
        'Keygate /healthz',
        0.8,
      ),
      ...workers,
      ...distributed.rows,
      ...(await verifierRows()),
    ];
    process.stdout.write(
      `HTTP: a closed-loop generator on raw sockets in a process of its own, ${CONNECTIONS} connections, interleaved rounds per row: ${FRESH_ROUNDS} for fresh tokens, ${REQUEST_ROUNDS} for the rows against /healthz, ${ROUNDS} for the others, ` +
        `${availableParallelism()} cores, load average ${loadBefore.toFixed(1)} before and ` +
        `${(loadavg()[0] as number).toFixed(1)} after; tokens signed beforehand in ${signSeconds.toFixed(0)} s.` +
        `${distributed.note ? ` ${distributed.note}` : ''}\n\n`,
    );
    return printTable('HTTP throughput (server in its own process)', rows, {
      measured: 'measured',
      extra: ['p50', 'p99', 'server CPU/req', 'event loop CPU/req', 'server RSS after'],
    });
  } finally {
    await stopGenerator();
    for (const server of servers) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
