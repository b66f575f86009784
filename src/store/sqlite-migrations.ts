/**
 * Numbered migrations for the embedded store. Entry i takes the schema from version i to i + 1
 * (PRAGMA user_version); each runs in its own transaction. Never edit one that has shipped.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    single_use_tokens INTEGER NOT NULL DEFAULT 0 CHECK (single_use_tokens IN (0, 1)),
    created_at INTEGER NOT NULL
  );
  CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    spki_pem TEXT NOT NULL,
    thumbprint TEXT NOT NULL,
    family TEXT NOT NULL CHECK (family IN ('rsa', 'ec-p256')),
    bits INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
    expires_at INTEGER,
    roles TEXT NOT NULL,
    default_role TEXT NOT NULL,
    label TEXT,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    UNIQUE (org_id, thumbprint)
  );
  CREATE INDEX keys_by_org ON keys (org_id);
  CREATE TABLE jti_ledger (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (iss, jti)
  ) WITHOUT ROWID;
  CREATE INDEX jti_ledger_by_expiry ON jti_ledger (expires_at);
  CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO meta (name, value) VALUES ('key_revision', 0);
  `,
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL UNIQUE,
    screen_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'device', 'service')),
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX users_by_org ON users (org_id);
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT
  );
  CREATE INDEX sessions_by_user ON sessions (user_id);
  CREATE TABLE server_keys (
    id TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    created_at INTEGER NOT NULL
  );
  `,
  `
  -- Login attempts, counted before hashing (src/core/login-throttle.ts). name: the login name as
  -- normalised, whether or not an account has it; scope: '' for the name's account-wide counter,
  -- else the client address (IPv6 by /64). expires_at: when nothing is left to count, wait for
  -- or trust, for pruning. The per-user failure count and lock it replaces are dropped.
  CREATE TABLE login_attempts (
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    window_ends_at INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL,
    trusted_until INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (name, scope)
  ) WITHOUT ROWID;
  CREATE INDEX login_attempts_by_expiry ON login_attempts (expires_at);
  ALTER TABLE users DROP COLUMN failed_logins;
  ALTER TABLE users DROP COLUMN locked_until;
  `,
];
