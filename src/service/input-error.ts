/** Bad input from a caller: which field, what is wrong, what to do. Nothing was changed. */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly field: string;
  readonly hint: string;
  readonly status: number;
  constructor(field: string, message: string, hint: string, status = 400) {
    super(message);
    this.field = field;
    this.hint = hint;
    this.status = status;
  }
}
