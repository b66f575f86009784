import type { Clock } from '../core/time.ts';
import type { JtiBinding, JtiClaim, Store } from '../store/store.ts';
import { TurnBatch } from './turn-end.ts';

interface Waiting {
  claim: JtiClaim;
  resolve(binding: JtiBinding): void;
  reject(error: unknown): void;
}

/** Claims committed together at most: a bound on one transaction's time under a flood. */
const MAX_BATCH = 512;

/**
 * The replay ledger as requests see it: each fresh token's claim waits for the end of the
 * event-loop turn it arrived in, and every claim of that turn is committed in one store
 * transaction (one script, when the ledger is in Redis). One commit per turn instead of one per token is the difference between the
 * ledger costing a third of the server's CPU under load and costing little; alone, a request
 * waits no longer than before, since its turn ends right after it.
 *
 * Each caller gets its own exact answer (the store binds a batch in order, so two claims on one
 * pair in the same batch get 'bound' and then 'same-token' or 'reused'), and only once the batch
 * is committed: an acknowledged binding survives kill -9. A failed commit fails every claim of
 * the batch (fail closed).
 */
export class ReplayLedger {
  private readonly store: Pick<Store, 'bindJtis'>;
  private readonly clock: Clock;
  /**
   * The turn's claims, committed after the I/O phase, when every request read in the turn has
   * made its own. It holds one turn's fresh tokens and needs no setting of its own; a batch
   * handed to the store is held by its requests, which wait for it at most
   * KEYGATE_STORE_LOCK_WAIT_MS.
   */
  private readonly waiting = new TurnBatch<Waiting>('commit', (all) => {
    for (let start = 0; start < all.length; start += MAX_BATCH)
      this.commit(all.slice(start, start + MAX_BATCH));
  });

  constructor(store: Pick<Store, 'bindJtis'>, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  bind(claim: JtiClaim): Promise<JtiBinding> {
    return new Promise((resolve, reject) => this.waiting.add({ claim, resolve, reject }));
  }

  private commit(batch: Waiting[]): void {
    this.store
      .bindJtis(
        batch.map((waiting) => waiting.claim),
        this.clock(),
      )
      .then(
        (bindings) => {
          for (let i = 0; i < batch.length; i++) batch[i]?.resolve(bindings[i] as JtiBinding);
        },
        (error: unknown) => {
          for (const waiting of batch) waiting.reject(error);
        },
      );
  }
}
