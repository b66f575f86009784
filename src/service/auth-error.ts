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
