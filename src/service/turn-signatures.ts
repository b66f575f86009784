import { type SignatureVerdict, type SignatureWork, verifyNow } from '../core/signature-work.ts';
import { atTurnEnd } from './turn-end.ts';

interface Waiting {
  work: SignatureWork;
  resolve(verdict: SignatureVerdict): void;
  reject(error: unknown): void;
}

/**
 * Signature checks held to the end of the event loop's turn and run there back to back, the
 * turn's fresh tokens one after another. Why: OpenSSL's verification reaches through several
 * layers of libcrypto, and between two requests the HTTP work of the others (V8, the kernel's
 * TCP stack) pushes that code and its data out of the CPU's caches. Measured on a server that
 * only verifies (Fastify and crypto.verify, fresh RS256-2048 tokens, 50 connections): one
 * verification in each request's handler added 54 us of CPU to the request, and a second one
 * right after it only 15 us; held to the turn's end, the same verifications cost 57 us of CPU
 * per request in all against 72 us. In Keygate, 85 us per fresh token against 98 us with the
 * signature checked in each request and, under load, on libuv's thread pool.
 *
 * A lone request waits no longer than before: its turn ends right after it. The replay ledger
 * commits after this stage (turn-end.ts), so the tokens verified here are bound in the same turn.
 */
export class TurnSignatures {
  private due: Waiting[] = [];

  verify(work: SignatureWork): Promise<SignatureVerdict> {
    return new Promise((resolve, reject) => {
      if (this.due.length === 0) atTurnEnd('verify', this.run);
      this.due.push({ work, resolve, reject });
    });
  }

  private readonly run = (): void => {
    const due = this.due;
    this.due = [];
    for (const { work, resolve, reject } of due) {
      // crypto.verify answers false for any signature that does not verify; a throw is a fault of
      // this process (OpenSSL out of memory, say), and stays the fault of its own request.
      try {
        resolve({ work, valid: verifyNow(work) });
      } catch (error) {
        reject(error);
      }
    }
  };
}
