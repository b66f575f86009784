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

/**
 * A refusal decided at once, from memory alone, and returned rather than thrown (a malformed
 * token, a kid no key has, a failed check): a plain value, not an Error. Even without its stack,
 * an Error's construction (and the change of Error.stackTraceLimit around it) cost 0.9 us of a
 * request under a flood of made-up kids, the largest single item of the token's work in the
 * server's profile; nothing ever throws this one. `error()` is the same refusal for a caller
 * that throws it.
 */
export class Refused {
  readonly rejection: Rejection;
  /** As AuthError's: the stored key the refused token named, if any. */
  readonly kid: string | undefined;
  constructor(rejection: Rejection, kid?: string) {
    this.rejection = rejection;
    this.kid = kid;
  }

  error(): AuthError {
    return new AuthError(this.rejection, this.kid);
  }
}
