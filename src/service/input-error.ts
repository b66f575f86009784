import { CodedError, type ErrorCode } from '../core/error-codes.ts';

/** The codes a caller's input can earn: the value is wrong, not allowed, unknown, or taken, or over a limit. */
export type InputErrorCode = Extract<
  ErrorCode,
  'invalid_input' | 'forbidden' | 'not_found' | 'conflict' | 'limit_reached'
>;

/** Bad input from a caller: which field, what is wrong, what to do. Nothing was changed. */
export class InputError extends CodedError {
  override readonly name = 'InputError';
  constructor(code: InputErrorCode, field: string, message: string, hint: string) {
    super(code, { field, message, hint });
  }
}
