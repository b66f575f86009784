import { CodedError } from '../core/error-codes.ts';
import type { Rejection } from '../core/reason-codes.ts';

/** A token was rejected; carries the reason code and its detail all the way to the client. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly rejection: Rejection;
  constructor(rejection: Rejection) {
    super(rejection.message);
    this.rejection = rejection;
  }
}

/** A dependency (the store, Redis) failed; authentication fails closed with this. */
export class UnavailableError extends CodedError {
  override readonly name = 'UnavailableError';
  /** `message` is for the log; the client gets the registry's refusal for `unavailable`. */
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', undefined, { ...options, internalMessage: message });
  }
}
