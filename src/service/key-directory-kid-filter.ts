import { randomInt } from 'node:crypto';
import { KidFilter } from '../core/kid-filter.ts';
import type { Store } from '../store/store.ts';

/** Kids the filter is sized for at a 1% false-positive rate (about 1.2 MB); past it, less selective. */
export const DEFAULT_KID_FILTER_CAPACITY = 1_000_000;
/** Key ids read per query while the filter fills at start. */
const FILTER_FILL_BATCH = 10_000;

/** An empty kid filter for the key directory, seeded at random so its false positives cannot be foreseen. */
export function newKidFilter(capacity = DEFAULT_KID_FILTER_CAPACITY): KidFilter {
  return new KidFilter(capacity, randomInt(2 ** 32));
}

/**
 * Adds every kid of the store to `kids`: the one cost at start that grows with the number of
 * keys, one pass over the key ids, in batches.
 */
export async function fillKidFilter(store: Store, kids: KidFilter): Promise<void> {
  for (let after = ''; ; ) {
    const ids = await store.keyIdsAfter(after, FILTER_FILL_BATCH);
    for (const id of ids) kids.add(id);
    if (ids.length < FILTER_FILL_BATCH) break;
    after = ids[ids.length - 1] as string;
  }
}
