import type { Row } from './postgres-database.ts';
import type { Org } from './store.ts';

// Rows as pg returns them: BIGINT arrives as a string (it may not fit a double; Keygate's
// seconds always do), TEXT[] as an array, BOOLEAN as a boolean.

// The columns each query names, never `*`: statements are prepared once per connection, and a
// prepared `SELECT *` fails ("cached plan must not change result type") once a newer node's
// migration adds a column, until the process restarts.
export const ORG_COLUMNS = 'id, name, single_use_tokens, created_at';
export const KEY_COLUMNS = `id, org_id, spki_pem, thumbprint, family, bits, status, expires_at, roles, default_role,
  label, owner_user_id, revokes_at, replaced_by, created_at, last_used_at`;
export const USER_COLUMNS = 'id, org_id, email, screen_name, role, status, password_hash, created_at';
export const SESSION_COLUMNS =
  'id, user_id, role, created_at, last_seen_at, expires_at, revoked_at, revoked_reason';
export const ATTEMPT_COLUMNS = 'scope, attempts, window_ends_at, blocked_until, trusted_until';

export function toOrg(row: Row): Org {
  return {
    id: String(row.id),
    name: String(row.name),
    singleUseTokens: row.single_use_tokens === true,
    createdAt: Number(row.created_at),
  };
}
