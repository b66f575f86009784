import { MAX_AUDIT_PAGE } from './audit.ts';
import type { UnixSeconds } from './time.ts';

/** What `keygate audit` and GET /auth/audit accept, and what a refusal says to send instead. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as const;
const RELATIVE = /^(\d{1,6})([smhdw])$/;
// Date.parse reads "1" or "May 3" as dates; only an ISO 8601 date, with an optional time, is one here.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

export const SINCE_EXPECTED =
  'an ISO 8601 time (2026-05-01 or 2026-05-01T12:00:00Z) or a duration back from now (30m, 1h, 7d, 2w)';
export const LIMIT_EXPECTED = `a whole number from 1 to ${MAX_AUDIT_PAGE}`;

/** `since` as seconds since the epoch: an ISO time, or `now` less a duration such as 7d. */
export function parseSince(text: string, now: UnixSeconds): Parsed<UnixSeconds> {
  const trimmed = text.trim();
  const relative = RELATIVE.exec(trimmed);
  if (relative) {
    const unit = relative[2] as keyof typeof UNIT_SECONDS;
    return { ok: true, value: now - Number(relative[1]) * UNIT_SECONDS[unit] };
  }
  const ms = ISO_TIME.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(ms)) return { ok: false, expected: SINCE_EXPECTED };
  return { ok: true, value: Math.floor(ms / 1000) };
}

export function parseLimit(text: string): Parsed<number> {
  const limit = /^\d{1,4}$/.test(text.trim()) ? Number(text.trim()) : 0;
  if (limit < 1 || limit > MAX_AUDIT_PAGE) return { ok: false, expected: LIMIT_EXPECTED };
  return { ok: true, value: limit };
}
