/**
 * A string option every Keygate needs, or a TypeError that names it, says what it must be and
 * shows what it is. An empty value is the usual shell mistake (an unset variable), and what is
 * signed with it would only be refused later, far from the mistake.
 */
export function requireText(name: string, value: unknown, mustBe: string): void {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${name} must be ${mustBe}; it is ${shown(value)}.`);
  }
}

/** A refused value as an error message shows it. */
export function shown(value: unknown): string {
  if (typeof value === 'string')
    return value === '' ? 'empty' : `${JSON.stringify(value.slice(0, 40))} (blank)`;
  return Array.isArray(value) ? JSON.stringify(value).slice(0, 60) : String(value);
}

/** What `kid` must be, in the words of every signer's error. */
export const KEY_ID_MEANING = 'the Key ID the public key was registered under';
