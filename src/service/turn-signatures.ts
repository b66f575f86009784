import { verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { type SignatureVerdict, type SignatureWork, verifyNow } from '../core/signature-work.ts';
import { COSTLY_FROM_US, PoolSplit, type SplitFrom } from './pool-split.ts';
import { TurnBatch } from './turn-end.ts';

interface Waiting {
  work: SignatureWork;
  /** kindOf(work), made once. */
  kind: string;
  resolve(verdict: SignatureVerdict): void;
  reject(error: unknown): void;
}

export interface TurnSignaturesOptions {
  /** Split the kinds costlier than this many microseconds, always, instead of as PoolSplit measures. */
  splitFrom?: SplitFrom;
  /** Server processes sharing this machine's cores (`serve --workers`); 1 by default. */
  serverProcesses?: number;
}

/**
 * The split where there is nothing to measure. On one core, none: the pool's threads would only
 * take the loop's time (pinned to one core, fresh ES256 tokens went at 14.6k a second with none
 * split, 13.0k with every second one). With fewer than two cores a server process, the costly
 * kinds only: the other processes keep the cores busy (two workers on two cores, fresh RS256-2048
 * tokens: 22.0k a second with the costly kinds split, 19.4k with the cheap ones measured).
 */
export function fixedSplit(cores: number, serverProcesses: number): SplitFrom | undefined {
  if (cores === 1) return Number.POSITIVE_INFINITY;
  return cores / serverProcesses < 2 ? COSTLY_FROM_US : undefined;
}

/**
 * Signature checks held to the end of the event loop's turn and run there back to back, the
 * turn's fresh tokens one after another. Why: OpenSSL's verification reaches through several
 * layers of libcrypto, and between two requests the HTTP work of the others (V8, the kernel's
 * TCP stack) pushes that code and its data out of the CPU's caches. Measured on a server that
 * only verifies (Fastify and crypto.verify, fresh RS256-2048 tokens, 50 connections): one
 * verification in each request's handler added 54 us of CPU to the request, and a second one
 * right after it only 15 us; held to the turn's end, the same verifications cost 57 us of CPU
 * per request in all against 72 us. In Keygate, 82-85 us per fresh RS256-2048 token against
 * 98-122 us with the signature checked in each request and, under load, on libuv's thread pool.
 *
 * In a turn with more than one, every second signature of the kinds the split names goes to
 * libuv's thread pool, so that its threads use another core while the loop verifies the rest:
 * always the costly kinds (above 40 us on the loop), and the cheap ones too where PoolSplit
 * measures that it pays, which depends on the machine and the load. What each kind costs the loop
 * is measured as the loop verifies it. On a single core nothing is split.
 *
 * A lone request waits no longer than before: its turn ends right after it, and its signature is
 * verified on the loop. The replay ledger commits after this stage (turn-end.ts), so the tokens
 * verified here are bound in the same turn; those sent to the pool, in the turn their verdict
 * comes back in.
 */
export class TurnSignatures {
  private readonly due = new TurnBatch<Waiting>('verify', (due) => this.run(due));
  /**
   * Microseconds one verification takes on the loop, by kind of signature (kindOf): a running
   * mean. The kinds are few: an algorithm a key allows and a signature length its size gives.
   */
  private readonly cost = new Map<string, number>();
  /** Which kinds a busy turn splits with the pool: measured, or fixed by the caller (tests). */
  private readonly split: Pick<PoolSplit, 'from' | 'turnVerified'>;

  constructor(options: TurnSignaturesOptions = {}) {
    const fixed = options.splitFrom ?? fixedSplit(availableParallelism(), options.serverProcesses ?? 1);
    this.split = fixed === undefined ? new PoolSplit() : { from: fixed, turnVerified: () => {} };
  }

  verify(work: SignatureWork): Promise<SignatureVerdict> {
    return new Promise((resolve, reject) => this.due.add({ work, kind: kindOf(work), resolve, reject }));
  }

  private run(due: Waiting[]): void {
    if (due.length === 1) {
      this.onLoop(due[0] as Waiting);
      return;
    }
    // Every second signature of a kind the split names goes to the pool first, so that its
    // threads are already verifying while the loop verifies the rest.
    const from = this.split.from;
    const onLoop: Waiting[] = [];
    let named = 0;
    let costly = 0;
    for (const waiting of due) {
      const cost = this.cost.get(waiting.kind) ?? 0;
      if (cost > COSTLY_FROM_US) costly++;
      if (cost > from && named++ % 2 === 1) onPool(waiting);
      else onLoop.push(waiting);
    }
    for (const waiting of onLoop) this.onLoop(waiting);
    this.split.turnVerified(due.length, costly);
  }

  private onLoop({ work, kind, resolve, reject }: Waiting): void {
    const started = performance.now();
    let valid: boolean;
    // crypto.verify answers false for any signature that does not verify; a throw is a fault of
    // this process (OpenSSL out of memory, say), and stays the fault of its own request.
    try {
      valid = verifyNow(work);
    } catch (error) {
      reject(error);
      return;
    }
    const micros = (performance.now() - started) * 1000;
    const mean = this.cost.get(kind);
    this.cost.set(kind, mean === undefined ? micros : mean + (micros - mean) / 16);
    resolve({ work, valid });
  }
}

/** What a verification costs depends on its algorithm and key size, which the signature's length gives. */
function kindOf(work: SignatureWork): string {
  return `${work.algorithm}/${work.jws.signature.length}`;
}

/** The signature check on libuv's thread pool (the callback form of crypto.verify). */
function onPool({ work, resolve, reject }: Waiting): void {
  verify(work.hash, work.data, work.keyObject, work.signature, (error, valid) => {
    if (error) reject(error);
    else resolve({ work, valid });
  });
}
