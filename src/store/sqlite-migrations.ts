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
  `
  -- One public key, one organization. A database from before this rule may hold one key pair
  -- in several organizations. The oldest registration keeps it and the later ones are revoked:
  -- left usable, a copy in another organization outlives a revocation in this one, the very hole
  -- the rule closes. They stay in the table, marked duplicate_of the key they copy and left out
  -- of the unique index, so that their tokens are refused as key_revoked (whose hint says to
  -- register a new key pair) rather than as an unknown kid.
  ALTER TABLE keys ADD COLUMN duplicate_of TEXT REFERENCES keys(id);
  CREATE INDEX keys_by_thumbprint_all ON keys (thumbprint, created_at);
  UPDATE keys SET duplicate_of = (
    SELECT first.id FROM keys AS first
    WHERE first.thumbprint = keys.thumbprint
    ORDER BY first.created_at, first.rowid LIMIT 1
  );
  DROP INDEX keys_by_thumbprint_all;
  UPDATE keys SET duplicate_of = NULL WHERE duplicate_of = id;
  UPDATE keys SET status = 'revoked' WHERE duplicate_of IS NOT NULL;
  CREATE UNIQUE INDEX keys_by_thumbprint ON keys (thumbprint) WHERE duplicate_of IS NULL;
  UPDATE meta SET value = value + 1 WHERE name = 'key_revision';

  -- User names are stored normalised (keygate_user_name is core/user-name.ts, registered by the
  -- store). Names that collide once normalised were separate accounts; the oldest keeps the
  -- name. A later one may be a look-alike registered beside a real account, so it is disabled,
  -- its sessions end, and it is renamed "<name>#duplicate-<id>" so that it stays visible in
  -- "keygate user list" for an administrator to sort out, and can never be logged in to.
  CREATE TEMP TABLE user_names AS
    SELECT id, keygate_user_name(email) AS name, created_at, rowid AS seq FROM users;
  CREATE INDEX temp.user_names_by_name ON user_names (name, created_at, seq);
  CREATE TEMP TABLE user_name_duplicates AS
    SELECT id FROM user_names AS later
    WHERE EXISTS (
      SELECT 1 FROM user_names AS older
      WHERE older.name = later.name
        AND (older.created_at < later.created_at
          OR (older.created_at = later.created_at AND older.seq < later.seq))
    );
  UPDATE users SET status = 'disabled', email = keygate_user_name(email) || '#duplicate-' || id
    WHERE id IN (SELECT id FROM user_name_duplicates);
  UPDATE sessions SET revoked_at = unixepoch(), revoked_reason = 'user_disabled'
    WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM user_name_duplicates);
  UPDATE users SET email = keygate_user_name(email)
    WHERE email <> keygate_user_name(email) AND id NOT IN (SELECT id FROM user_name_duplicates);
  DROP TABLE user_name_duplicates;
  DROP TABLE user_names;

  -- A session records the role it was issued with: a token claiming another role was not
  -- issued by Keygate. The live role is the user's (users.role); sessions from before this
  -- column were issued with the role their user has now.
  ALTER TABLE sessions ADD COLUMN role TEXT NOT NULL DEFAULT 'user'
    CHECK (role IN ('admin', 'user', 'device', 'service'));
  UPDATE sessions SET role = (SELECT users.role FROM users WHERE users.id = sessions.user_id);

  -- Session signing keys: the private half is sealed (AES-256-GCM under KEYGATE_SECRET_FILE;
  -- the service re-seals the plaintext PEM of older databases when it starts), and dropped when
  -- the key is retired, since nothing signs with a retired key. retired_at bounds how long its
  -- public half verifies: until the longest session it could have signed has ended.
  CREATE TABLE server_keys_v4 (
    id TEXT PRIMARY KEY,
    sealed_private_key TEXT,
    public_jwk TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    CHECK ((status = 'active') = (retired_at IS NULL)),
    CHECK ((status = 'active') = (sealed_private_key IS NOT NULL))
  );
  -- A retired key was retired when the next key was made.
  INSERT INTO server_keys_v4 (id, sealed_private_key, public_jwk, status, created_at, retired_at)
    SELECT id, CASE status WHEN 'active' THEN private_pem END, public_jwk, status, created_at,
      CASE status WHEN 'retired' THEN coalesce(
        (SELECT min(later.created_at) FROM server_keys AS later WHERE later.created_at > server_keys.created_at),
        (SELECT max(created_at) FROM server_keys)
      ) END
    FROM server_keys;
  DROP TABLE server_keys;
  ALTER TABLE server_keys_v4 RENAME TO server_keys;
  `,
  `
  -- Key ownership (DESIGN.md): a key registered by a user for themselves names them; a key of
  -- the organization names no one. A rotated key records its replacement and the end of its
  -- grace, from which it is revoked (the service's sweep then sets its status).
  ALTER TABLE keys ADD COLUMN owner_user_id TEXT REFERENCES users(id);
  ALTER TABLE keys ADD COLUMN revokes_at INTEGER;
  ALTER TABLE keys ADD COLUMN replaced_by TEXT REFERENCES keys(id);
  CREATE INDEX keys_by_owner ON keys (owner_user_id) WHERE owner_user_id IS NOT NULL;
  CREATE INDEX keys_by_revokes_at ON keys (revokes_at) WHERE revokes_at IS NOT NULL AND status <> 'revoked';
  `,
  `
  -- The replay ledger in compact rows (sqlite-jti.ts): the pair and its token as 16-byte
  -- digests, computed here by functions the store lends to SQL. Every binding is carried over.
  CREATE TABLE jti_bindings (
    pair BLOB PRIMARY KEY,
    token BLOB NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO jti_bindings (pair, token, expires_at)
    SELECT keygate_jti_pair(iss, jti), keygate_bound_token(token_hash), expires_at FROM jti_ledger;
  DROP TABLE jti_ledger;
  CREATE INDEX jti_bindings_by_expiry ON jti_bindings (expires_at);
  `,
  `
  -- The key change feed (Store.keyChangesSince): each key records the revision of its last
  -- change, so that a verifying node reads what changed since the revision it holds instead of
  -- the state of every key. Triggers stamp it, so that no write, however it changes a key (an
  -- insert, a status change, a rotation, the expiry sweep, or an older Keygate still running
  -- beside a newer one on the same file), can change a key without it. Each change bumps the
  -- revision by one, so revisions are unique and a bounded batch never ends in the middle of
  -- one. Keys from before this step keep no revision: no node has to be told about them, since
  -- a node asks the store for any kid it does not hold. Every key is carried over.
  ALTER TABLE keys ADD COLUMN revision INTEGER;
  CREATE UNIQUE INDEX keys_by_revision ON keys (revision);
  CREATE TRIGGER keys_feed_insert AFTER INSERT ON keys
  BEGIN
    UPDATE meta SET value = value + 1 WHERE name = 'key_revision';
    UPDATE keys SET revision = (SELECT value FROM meta WHERE name = 'key_revision') WHERE id = NEW.id;
  END;
  CREATE TRIGGER keys_feed_update AFTER UPDATE OF status, expires_at, revokes_at, replaced_by ON keys
  WHEN OLD.status IS NOT NEW.status OR OLD.expires_at IS NOT NEW.expires_at
    OR OLD.revokes_at IS NOT NEW.revokes_at OR OLD.replaced_by IS NOT NEW.replaced_by
  BEGIN
    UPDATE meta SET value = value + 1 WHERE name = 'key_revision';
    UPDATE keys SET revision = (SELECT value FROM meta WHERE name = 'key_revision') WHERE id = NEW.id;
  END;
  `,
  `
  -- The audit trail (Store.appendAudit, listAudit): one row per event, never updated. An event
  -- that records a change is written in the transaction that makes it. AUTOINCREMENT: an id is
  -- never handed out twice, even after the newest rows are pruned, so a reader's cursor (before)
  -- always means the same place. org_id is null for events of no organization (a failed login by
  -- a name no account has), and no foreign key: the trail stays whatever becomes of what it names.
  CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    org_id TEXT,
    actor_type TEXT NOT NULL CHECK (actor_type IN ('operator', 'user', 'key', 'anonymous', 'system')),
    actor_id TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX audit_events_by_org ON audit_events (org_id, id);
  CREATE INDEX audit_events_by_at ON audit_events (at);
  CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
  BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
  END;
  `,
  `
  -- Key usage (Store.recordKeyUse): how many tokens naming each key were accepted, and refused
  -- per reason code. Nodes add their in-memory counts in batches (count = count + added), so the
  -- rows of several nodes add up; only kids of stored keys are counted.
  CREATE TABLE key_usage (
    kid TEXT NOT NULL REFERENCES keys(id),
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (kid, outcome)
  ) WITHOUT ROWID;
  `,
  `
  -- The replay ledger in insertion order (sqlite-jti.ts): rows go to the end of a rowid table,
  -- and only the unique index on the pair takes a random insert. No index on expiry: the oldest
  -- rows expire first, and pruning walks them in rowid order (sqlite-prune.ts). Every binding
  -- still in force is carried over, soonest to expire first; an expired one binds nothing, and
  -- copying only the live ones keeps this step short however far pruning had fallen behind.
  CREATE TABLE jti_bindings_in_order (
    pair BLOB NOT NULL,
    token BLOB NOT NULL,
    expires_at INTEGER NOT NULL
  );
  INSERT INTO jti_bindings_in_order (pair, token, expires_at)
    SELECT pair, token, expires_at FROM jti_bindings WHERE expires_at > unixepoch() ORDER BY expires_at;
  DROP TABLE jti_bindings;
  ALTER TABLE jti_bindings_in_order RENAME TO jti_bindings;
  CREATE UNIQUE INDEX jti_bindings_by_pair ON jti_bindings (pair);
  `,
  `
  -- The replay ledger's recent bindings (sqlite-jti.ts): appended with no index, each connection
  -- indexing them in memory; jti_bindings keeps the older ones, moved there when that memory is
  -- full. AUTOINCREMENT: an id is never handed out twice, even once the table has emptied, so a
  -- connection that has read up to an id misses no row appended after it.
  CREATE TABLE jti_recent (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pair BLOB NOT NULL,
    token BLOB NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  `
  -- The replay ledger's recent bindings a commit's batch to a row (sqlite-jti.ts): one insert and
  -- one B-tree cell for a turn's fresh tokens instead of one each. entries holds the bindings end
  -- to end (keygate_jti_entry's layout), expires_at the latest of their expiries, which pruning
  -- reads. Every binding still in force is carried over, a row each, in the same order; the ids
  -- start again, and each connection reads the table afresh when it opens.
  CREATE TABLE jti_recent_rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entries BLOB NOT NULL,
    expires_at INTEGER NOT NULL
  );
  INSERT INTO jti_recent_rows (entries, expires_at)
    SELECT keygate_jti_entry(pair, token, expires_at), expires_at FROM jti_recent
      WHERE expires_at > unixepoch() ORDER BY id;
  DROP TABLE jti_recent;
  ALTER TABLE jti_recent_rows RENAME TO jti_recent;
  `,
];
