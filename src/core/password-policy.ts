import { type Refusal, refuse } from './error-codes.ts';

/**
 * The floor for a new password, in the shape NIST SP 800-63B gives it: a minimum length and a
 * list of common passwords to refuse, and no composition rules (they push people to
 * "Password1!"). 12 is this project's choice; 800-63B-4 asks 15 where a password is the only
 * factor and 8 beside a second one. Keygate sees a password only where one is chosen (the CLI's
 * `user create` and `user set-password`); a login carries its SHA-256, which nothing can measure.
 */
export const MIN_PASSWORD_LENGTH = 12;

/**
 * Length in Unicode code points after NFC, as 800-63B counts: each character a person typed is
 * one, whether a keyboard sent "é" composed or as "e" plus a combining accent; an emoji is one,
 * not the two UTF-16 units `.length` would count.
 */
export function passwordLength(password: string): number {
  let length = 0;
  for (const _ of password.normalize('NFC')) length++;
  return length;
}

/**
 * The form in which passwords are compared with the list: NFKC folds look-alikes such as
 * full-width "ｐａｓｓｗｏｒｄ" into plain letters, and case is ignored, since "PASSWORD1234" is
 * tried as early as "password1234". Only the comparison uses it: the password is hashed as typed.
 */
export function normalizeForList(password: string): string {
  return password.normalize('NFKC').toLowerCase();
}

/** Reads the shipped list (common-passwords.txt): one password a line, already normalized. */
export function parseCommonPasswords(text: string): ReadonlySet<string> {
  return new Set(text.split('\n').filter((line) => line !== ''));
}

/**
 * Why a new password is refused, or undefined when it is accepted. The refusal never contains the
 * password: it is shown on screens and may be logged.
 */
export function checkNewPassword(password: string, common: ReadonlySet<string>): Refusal | undefined {
  if (passwordLength(password) < MIN_PASSWORD_LENGTH) {
    return refuse('invalid_input', {
      field: 'password',
      message: `The password is shorter than ${MIN_PASSWORD_LENGTH} characters.`,
      hint: `Choose one of ${MIN_PASSWORD_LENGTH} characters or more: a passphrase of four unrelated words is long and easy to remember, or let a password manager make one.`,
    });
  }
  if (common.has(normalizeForList(password))) {
    return refuse('invalid_input', {
      field: 'password',
      message: 'The password is on the list of common passwords, which attackers try first.',
      hint: 'Choose one nobody else would: a passphrase of four unrelated words, or one a password manager makes. Adding digits or "!" to a common password does not help.',
    });
  }
  return undefined;
}
