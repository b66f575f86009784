/** Whole seconds since the epoch, as JWT NumericDate values are compared here. */
export type UnixSeconds = number;

export function isoTime(seconds: UnixSeconds): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** "in 59 min", "3 s ago": how far `target` is from `now`, for people reading /auth/hello. */
export function relativeTime(target: UnixSeconds, now: UnixSeconds): string {
  const delta = target - now;
  if (delta === 0) return 'just now';
  const abs = Math.abs(delta);
  const amount =
    abs < 120 ? `${abs} s` : abs < 7200 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`;
  return delta >= 0 ? `in ${amount}` : `${amount} ago`;
}

/** Where "now" comes from. Core takes `now` as a value; services are given a Clock. */
export type Clock = () => UnixSeconds;
