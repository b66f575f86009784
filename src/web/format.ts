import { type Child, h } from './dom.js';

// Times are shown in the reader's own locale and zone, with how far off they are measured on
// the server's clock (a wrong clock on this machine would otherwise call a live key expired).

let offsetMs = 0;

/** Records the server's time as of now; later relative times are measured on its clock. */
export function syncClock(serverTime: string): void {
  const server = Date.parse(serverTime);
  if (Number.isFinite(server)) offsetMs = server - Date.now();
}

/** The server's clock in whole seconds. */
export function serverNow(): number {
  return Math.floor((Date.now() + offsetMs) / 1000);
}

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];

/** "in 3 days", "5 minutes ago", "now". */
export function fromNow(iso: string): string {
  const seconds = Math.round(Date.parse(iso) / 1000 - serverNow());
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.trunc(seconds / size), unit);
  }
  return relative.format(0, 'second');
}

export function formatDate(iso: string): string {
  const time = Date.parse(iso);
  return Number.isFinite(time) ? absolute.format(time) : iso;
}

/** A <time> with the date in words and, below it, how long ago or ahead; `none` when absent. */
export function timeCell(iso: string | null, none: string): Child {
  if (iso === null) return h('span', { class: 'muted' }, none);
  return h(
    'time',
    { datetime: iso, title: iso },
    formatDate(iso),
    h('span', { class: 'relative' }, fromNow(iso)),
  );
}

/** How a key is named to the reader: its label, or its id when it has none. */
export function keyName(key: { label: string | null; key_id: string }): string {
  return key.label ?? key.key_id;
}
