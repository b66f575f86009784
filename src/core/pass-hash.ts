/**
 * Spec 004's `pass_hash` is the SHA-256 of the password in hex. It is still the password as far as
 * this server is concerned (whoever holds it can log in), so it is validated here, then hashed with
 * argon2id and never kept.
 */
export type PassHashCheck = { ok: true; value: string } | { ok: false; message: string };

const HEX64 = /^[0-9a-fA-F]{64}$/;

export function checkPassHash(value: unknown): PassHashCheck {
  if (value === undefined || value === null) return { ok: false, message: '"pass_hash" is missing.' };
  if (typeof value !== 'string') {
    return {
      ok: false,
      message: `"pass_hash" must be a string of 64 hex digits, not ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}.`,
    };
  }
  if (!HEX64.test(value)) {
    return {
      ok: false,
      message: `"pass_hash" must be exactly 64 hex digits (SHA-256); this one has ${value.length} characters${/^[0-9a-fA-F]*$/.test(value) ? '' : ' and non-hex ones'}.`,
    };
  }
  return { ok: true, value: value.toLowerCase() };
}

export const PASS_HASH_HINT =
  'Send the SHA-256 of the password in hex, e.g. `echo -n "$PASSWORD" | shasum -a 256 | cut -d " " -f 1`.';
