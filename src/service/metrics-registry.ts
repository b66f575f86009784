import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import {
  DECISION_METHODS,
  DECISION_OUTCOMES,
  type DecisionMethod,
  type DecisionOutcome,
  type LatencyCounts,
  type Metrics,
} from './metrics.ts';

/** What /metrics reads, at scrape time only: the counters, and the sizes of the caches. */
export interface MetricSources {
  metrics: Metrics;
  /** The key directory's maps (KeyDirectory.sizes). */
  directory: { readonly sizes: Readonly<Record<string, number>> };
  /** The verified-token cache, and the session memories (Authenticator.sessionSizes). */
  authenticator: {
    readonly cache: { readonly size: number };
    readonly sessionSizes: Readonly<Record<string, number>>;
  };
  /** The store, for what it holds in memory (Store.recentJtiEntries). */
  store: { readonly recentJtiEntries?: number | undefined };
}

type Labels = Record<string, string>;

/**
 * A histogram whose buckets are counted elsewhere (LatencyCounts, with no label hashing on the
 * request path) and only read here, when the registry is scraped.
 */
class CountedHistogram extends Histogram<string> {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly rows: () => Iterable<[Labels, LatencyCounts]>;

  constructor(
    name: string,
    help: string,
    labelNames: string[],
    rows: () => Iterable<[Labels, LatencyCounts]>,
  ) {
    super({ name, help, labelNames, registers: [] });
    this.metricName = name;
    this.metricHelp = help;
    this.rows = rows;
  }

  // prom-client's registry writes the text format from this method, and its `get` (JSON) reads it.
  async getForPromString() {
    const values: { labels: Labels; sharedLabels: Labels; value: number; metricName: string }[] = [];
    const row = (labels: Labels, value: number, suffix: string) =>
      values.push({ labels, sharedLabels: {}, value, metricName: `${this.metricName}${suffix}` });
    for (const [labels, latency] of this.rows()) {
      let cumulative = 0;
      latency.counts.forEach((count, bucket) => {
        cumulative += count;
        row({ ...labels, le: String(latency.bounds[bucket] ?? '+Inf') }, cumulative, '_bucket');
      });
      row(labels, latency.sum, '_sum');
      row(labels, cumulative, '_count');
    }
    return { name: this.metricName, help: this.metricHelp, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** Decisions as exposed: a cached answer is an accepted key-pair token. */
function decisionRows(metrics: Metrics): [DecisionMethod, DecisionOutcome, number][] {
  const rows: [DecisionMethod, DecisionOutcome, number][] = [];
  for (const method of DECISION_METHODS) {
    for (const outcome of DECISION_OUTCOMES) {
      let value = metrics.decisions[method][outcome];
      if (method === 'key' && outcome === 'accepted') value += metrics.tokenCacheAnswers;
      // A token not read far enough to tell its kind can only be missing or malformed.
      if (method === 'unknown' && value === 0 && outcome !== 'token_missing' && outcome !== 'token_malformed')
        continue;
      rows.push([method, outcome, value]);
    }
  }
  return rows;
}

/**
 * A Registry of its own (never prom-client's global one, so that several apps in one process, as
 * in the tests, do not share counts), whose metrics read `sources` when scraped, plus
 * prom-client's process metrics (memory, CPU, event-loop delay), which start when this is built.
 */
export function metricsRegistry(sources: MetricSources): Registry {
  const { metrics } = sources;
  const registry = new Registry();
  const registers = [registry];
  new Counter({
    name: 'keygate_decisions_total',
    help: 'Tokens answered on a protected route, by how they were checked and the outcome: accepted or the reason code.',
    labelNames: ['method', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const [method, outcome, value] of decisionRows(metrics)) this.inc({ method, outcome }, value);
    },
  });
  registry.registerMetric(
    new CountedHistogram(
      'keygate_verification_seconds',
      'Seconds to answer a token the verified-token cache could not answer (signature, key, ledger or session read).',
      ['method'],
      () => Object.entries(metrics.verification).map(([method, latency]) => [{ method }, latency]),
    ),
  );
  new Counter({
    name: 'keygate_cache_requests_total',
    help: 'Look-ups in the verified-token cache (key-pair tokens) and the key directory: hit answered from memory, miss needed more.',
    labelNames: ['cache', 'result'],
    registers,
    collect() {
      this.reset();
      const checkedInFull = Object.values(metrics.decisions.key).reduce((sum, n) => sum + n, 0);
      this.inc({ cache: 'token', result: 'hit' }, metrics.tokenCacheAnswers);
      this.inc({ cache: 'token', result: 'miss' }, checkedInFull);
      this.inc({ cache: 'key_directory', result: 'hit' }, metrics.keyLookups.hit);
      this.inc({ cache: 'key_directory', result: 'miss' }, metrics.keyLookups.miss);
    },
  });
  new Counter({
    name: 'keygate_logins_total',
    help: 'POST /auth/login answers: accepted, throttled (too many failures for the account or address), or the error code.',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, value] of metrics.logins) this.inc({ outcome }, value);
    },
  });
  new Counter({
    name: 'keygate_refusals_total',
    help: 'Error answers by code (token refusals are keygate_decisions_total): rate_limited, busy and too_many_connections are load shed.',
    labelNames: ['code'],
    registers,
    collect() {
      this.reset();
      for (const [code, value] of Object.entries(metrics.refusals)) this.inc({ code }, value);
    },
  });
  storeMetrics(registry, metrics);
  new Gauge({
    name: 'keygate_key_directory_entries',
    help: "Entries in each of the key directory's maps.",
    labelNames: ['map'],
    registers,
    collect() {
      for (const [map, size] of Object.entries(sources.directory.sizes)) this.set({ map }, size);
    },
  });
  new Gauge({
    name: 'keygate_token_cache_entries',
    help: 'Tokens in the verified-token cache.',
    registers,
    collect() {
      this.set(sources.authenticator.cache.size);
    },
  });
  new Gauge({
    name: 'keygate_session_memory_entries',
    help: 'Session tokens remembered as verified (bound: KEYGATE_TOKEN_CACHE_ENTRIES), and sessions whose last-seen write is remembered (KEYGATE_SESSION_TOUCH_ENTRIES).',
    labelNames: ['map'],
    registers,
    collect() {
      for (const [map, size] of Object.entries(sources.authenticator.sessionSizes)) this.set({ map }, size);
    },
  });
  if (sources.store.recentJtiEntries !== undefined) {
    new Gauge({
      name: 'keygate_replay_ledger_memory_entries',
      help: "Recent replay-ledger bindings the embedded store indexes in this process's memory (bound: KEYGATE_RECENT_JTI_ENTRIES).",
      registers,
      collect() {
        this.set(sources.store.recentJtiEntries ?? 0);
      },
    });
  }
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Store calls by method name: only methods called at least once are listed. */
function storeMetrics(registry: Registry, metrics: Metrics): void {
  const called = () => [...metrics.store].filter(([, counts]) => counts.calls > 0);
  new Counter({
    name: 'keygate_store_calls_total',
    help: 'Store calls by method.',
    labelNames: ['method'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [method, counts] of called()) this.inc({ method }, counts.calls);
    },
  });
  new Counter({
    name: 'keygate_store_errors_total',
    help: 'Store calls that failed (the store unavailable, or a bug), by method; a refused write (conflict, cap) is not one.',
    labelNames: ['method'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [method, counts] of called()) this.inc({ method }, counts.errors);
    },
  });
  registry.registerMetric(
    new CountedHistogram('keygate_store_call_seconds', 'Seconds per store call, by method.', ['method'], () =>
      called().map(([method, counts]) => [{ method }, counts.latency]),
    ),
  );
}
