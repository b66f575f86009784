export const ROLES = ['admin', 'user', 'device', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** What a key registered without options may sign for: admin is only ever granted explicitly. */
export const DEFAULT_KEY_ROLES: readonly Role[] = ['user', 'device', 'service'];
export const DEFAULT_ROLE: Role = 'user';

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
