import type { Rejection } from '../core/reason-codes.ts';
import { StacklessError } from '../core/stackless-error.ts';

/**
 * A token was rejected; carries the reason code and its detail all the way to the client. It is
 * an expected answer, not a fault, so it carries no stack: capturing one was a tenth of the
 * server's time under a flood of bad tokens, and nothing ever reads it.
 */
export class AuthError extends StacklessError {
  override readonly name = 'AuthError';
  readonly rejection: Rejection;
  /** The stored key the refused token named, when its kid resolved to one: its usage counts it. */
  readonly kid: string | undefined;
  constructor(rejection: Rejection, kid?: string) {
    super(rejection.message);
    this.rejection = rejection;
    this.kid = kid;
  }
}
