import type { KeyObject } from 'node:crypto';
import type { KeyRecord } from './key-record.ts';

/** A public key ready to verify signatures. */
export interface VerifyingKey {
  keyObject: KeyObject;
  /** signatureLength(keyObject), kept with the key so no token pays for computing it. */
  signatureBytes: number;
}

/** A registered key as the key-pair checks need it: its record and its parsed public key. */
export interface ResolvedKey extends VerifyingKey {
  record: KeyRecord;
}
