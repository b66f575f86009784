/**
 * Every id Keygate issues (organizations, keys, users, sessions) is a lowercase UUID from
 * randomUUID(). Anything else was never issued: it can be answered "not found" without asking
 * the store, which keeps junk from spending store reads.
 */
const ISSUED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isIssuedId(value: string): boolean {
  return ISSUED_ID.test(value);
}
