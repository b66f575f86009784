import type { Check, HelloReport } from './api.js';
import { h } from './dom.js';
import { formatDate } from './format.js';

// /auth/hello's report as a reader wants it: what failed first, each with what to change.

type State = 'failed' | 'warning' | 'skipped' | 'passed';

const ORDER: Record<State, number> = { failed: 0, warning: 1, skipped: 2, passed: 3 };
const WORDS: Record<State, string> = {
  failed: 'Failed',
  warning: 'Warning',
  skipped: 'Not checked',
  passed: 'Passed',
};

function stateOf(check: Check): State {
  if (check.skipped) return 'skipped';
  if (!check.ok) return 'failed';
  return check.warning ? 'warning' : 'passed';
}

/** Failures first, then warnings, then checks not run, then passes; the server's order within each. */
export function orderChecks(checks: readonly Check[]): Check[] {
  return checks
    .map((check, index) => ({ check, index }))
    .sort((a, b) => ORDER[stateOf(a.check)] - ORDER[stateOf(b.check)] || a.index - b.index)
    .map(({ check }) => check);
}

/**
 * What the server expects of the token, read off the checks: a failed check names what it
 * wanted in `expected`; a passed one saw it, in `actual`.
 */
export function expectations(report: HelloReport): [string, string][] {
  const find = (name: string) => report.checks.find((check) => check.name === name);
  const wanted = (name: string, otherwise: string) => {
    const check = find(name);
    if (check?.expected) return check.expected;
    if (check?.ok && check.actual) return check.actual;
    return otherwise;
  };
  return [
    ['Issuer (iss)', wanted('iss', 'your organization id')],
    [
      'Audience (aud)',
      wanted('aud', report.accepted?.audiences.join(' or ') ?? 'see GET /auth/signing-keys'),
    ],
    ['Key id (kid)', wanted('kid', 'the key id of a registered, active key')],
    ['Server time', `${formatDate(report.server_time)} (${report.server_time})`],
  ];
}

function detailRow(term: string, value: string | undefined) {
  return value ? [h('dt', {}, term), h('dd', { class: 'mono' }, value)] : [];
}

function checkItem(check: Check): HTMLLIElement {
  const state = stateOf(check);
  return h(
    'li',
    { class: `check check-${state}` },
    h(
      'p',
      { class: 'check-head' },
      h('span', { class: `badge badge-${state}` }, WORDS[state]),
      h('strong', { class: 'mono' }, check.name),
      check.code ? h('code', { class: 'code-name' }, check.code) : null,
    ),
    h('p', { class: 'check-message' }, check.message),
    check.warning ? h('p', { class: 'check-hint' }, check.warning) : null,
    check.hint
      ? h('p', { class: 'check-hint' }, h('span', { class: 'hint-label' }, 'What to change: '), check.hint)
      : null,
    check.expected || check.actual
      ? h(
          'dl',
          { class: 'pairs' },
          ...detailRow('Expected', check.expected),
          ...detailRow('Seen', check.actual),
        )
      : null,
  );
}

/**
 * The verdict in words, then every check, failures first. `folded` tucks the list of a valid
 * token behind a disclosure: nothing in it needs reading.
 */
export function renderReport(report: HelloReport, options: { folded?: boolean } = {}): HTMLElement {
  const failed = report.checks.filter((check) => stateOf(check) === 'failed').length;
  const summary = report.valid
    ? 'Valid: Keygate accepts this token.'
    : `Rejected${report.code ? ` (${report.code})` : ''}: ${failed} check${failed === 1 ? '' : 's'} failed.`;
  const list = h('ol', { class: 'checks' }, ...orderChecks(report.checks).map(checkItem));
  return h(
    'div',
    { class: 'report' },
    h('p', { class: `verdict ${report.valid ? 'verdict-ok' : 'verdict-bad'}` }, summary),
    options.folded && report.valid
      ? h('details', {}, h('summary', {}, `Show all ${report.checks.length} checks`), list)
      : list,
  );
}
