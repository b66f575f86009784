import type { Clock } from '../core/time.ts';

/** The wall clock in whole seconds; tests pass a frozen Clock instead. */
export const systemClock: Clock = () => Math.floor(Date.now() / 1000);
