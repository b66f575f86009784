import type { KeyList, Principal, SessionUser } from './api.js';
import { syncClock } from './format.js';

// What the views share: who is logged in and the last key list the server sent.

export interface Me {
  user: SessionUser;
  /** From /v1/whoami: the organization, and the user's id as `sub`. */
  principal: Principal;
}

let me: Me | undefined;
let keyList: KeyList | undefined;
const listeners = new Set<() => void>();

export function currentMe(): Me | undefined {
  return me;
}

export function setMe(value: Me | undefined): void {
  me = value;
  if (value === undefined) keyList = undefined;
}

export function currentKeys(): KeyList | undefined {
  return keyList;
}

export function setKeys(value: KeyList): void {
  keyList = value;
  syncClock(value.server_time);
  for (const listener of listeners) listener();
}

/** Calls `listener` after every new key list. */
export function onKeysChanged(listener: () => void): void {
  listeners.add(listener);
}
