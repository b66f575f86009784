import pg from 'pg';

/**
 * Numbered migrations for the PostgreSQL store. Entry i takes the schema from version i to i + 1
 * (the rows of schema_migrations); each runs in its own transaction. Never edit one that has
 * shipped. The first matches the SQLite store's shape at its sixth (sqlite-migrations.ts): no
 * PostgreSQL database predates it; the later ones carry every row over.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  -- Identifiers and names compare and sort bytewise ("C"), as in SQLite: the same order in every
  -- store, whatever the database's locale.
  CREATE TABLE orgs (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    single_use_tokens BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_id TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    -- Normalised by the caller (core/user-name.ts) before it gets here.
    email TEXT COLLATE "C" NOT NULL CONSTRAINT users_email_unique UNIQUE,
    screen_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'device', 'service')),
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX users_by_org ON users (org_id);
  CREATE TABLE keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_id TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    spki_pem TEXT NOT NULL,
    thumbprint TEXT COLLATE "C" NOT NULL,
    family TEXT NOT NULL CHECK (family IN ('rsa', 'ec-p256')),
    bits INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
    expires_at BIGINT,
    roles TEXT[] NOT NULL,
    default_role TEXT NOT NULL,
    label TEXT,
    owner_user_id TEXT COLLATE "C" REFERENCES users (id),
    revokes_at BIGINT,
    replaced_by TEXT COLLATE "C" REFERENCES keys (id),
    -- As in SQLite: a copy of a key pair registered before the one-organization rule, revoked
    -- and exempt from it. Nothing writes it here, but data moved over from SQLite may hold it.
    duplicate_of TEXT COLLATE "C" REFERENCES keys (id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    CONSTRAINT keys_org_thumbprint_unique UNIQUE (org_id, thumbprint)
  );
  -- One key pair, one organization.
  CREATE UNIQUE INDEX keys_thumbprint_unique ON keys (thumbprint) WHERE duplicate_of IS NULL;
  CREATE INDEX keys_by_owner ON keys (owner_user_id) WHERE owner_user_id IS NOT NULL;
  CREATE INDEX keys_by_revokes_at ON keys (revokes_at) WHERE revokes_at IS NOT NULL AND status <> 'revoked';
  CREATE TABLE meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
  INSERT INTO meta (name, value) VALUES ('key_revision', 0);

  CREATE TABLE jti_ledger (
    iss TEXT COLLATE "C" NOT NULL,
    jti TEXT COLLATE "C" NOT NULL,
    token_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (iss, jti)
  );
  CREATE INDEX jti_ledger_by_expiry ON jti_ledger (expires_at);

  CREATE TABLE sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'device', 'service')),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
  );
  CREATE INDEX sessions_by_user ON sessions (user_id);
  -- Pruning finds ended sessions by it; SQLite walks its rowids instead, PostgreSQL has none.
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  -- Login attempts (core/login-throttle.ts): scope '' is the name's account-wide counter, any
  -- other the client address. expires_at: when nothing is left to count, wait for or trust.
  CREATE TABLE login_attempts (
    name TEXT COLLATE "C" NOT NULL,
    scope TEXT COLLATE "C" NOT NULL,
    attempts INTEGER NOT NULL,
    window_ends_at BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    trusted_until BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (name, scope)
  );
  CREATE INDEX login_attempts_by_expiry ON login_attempts (expires_at);

  -- Session signing keys, the private half sealed under KEYGATE_SECRET_FILE and dropped on
  -- retirement. At most one is active: the index backs the store's lock on rotation.
  CREATE TABLE server_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    sealed_private_key TEXT,
    public_jwk TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    CHECK ((status = 'active') = (retired_at IS NULL)),
    CHECK ((status = 'active') = (sealed_private_key IS NOT NULL))
  );
  CREATE UNIQUE INDEX server_keys_one_active ON server_keys ((true)) WHERE status = 'active';

  -- The replay ledger's batch (Store.bindJtis) in one round trip: the claims in order, each
  -- seeing the ones before it, as SQLite's loop does. Pairs are taken in a fixed order (claims of
  -- one pair keep theirs), so that two batches locking the same rows never wait on each other in
  -- a cycle. A conflicting row is locked by ON CONFLICT even when its binding holds, so the read
  -- that follows sees the holder that stays.
  CREATE FUNCTION keygate_bind_jtis(
    claim_iss TEXT[], claim_jti TEXT[], claim_hash TEXT[], claim_expiry BIGINT[], at_time BIGINT
  ) RETURNS TEXT[] LANGUAGE plpgsql AS $$
  DECLARE
    answers TEXT[] := array_fill(NULL::TEXT, ARRAY[cardinality(claim_jti)]);
    claim RECORD;
    holder TEXT;
  BEGIN
    FOR claim IN
      SELECT c.iss, c.jti, c.token_hash, c.expires_at, c.ord
      FROM unnest(claim_iss, claim_jti, claim_hash, claim_expiry)
        WITH ORDINALITY AS c (iss, jti, token_hash, expires_at, ord)
      ORDER BY c.iss COLLATE "C", c.jti COLLATE "C", c.ord
    LOOP
      INSERT INTO jti_ledger AS held (iss, jti, token_hash, expires_at)
        VALUES (claim.iss, claim.jti, claim.token_hash, claim.expires_at)
        ON CONFLICT (iss, jti) DO UPDATE
          SET token_hash = excluded.token_hash, expires_at = excluded.expires_at
          WHERE held.expires_at <= at_time
        RETURNING held.token_hash INTO holder;
      IF FOUND THEN
        answers[claim.ord] := 'bound';
      ELSE
        SELECT held.token_hash INTO holder FROM jti_ledger AS held
          WHERE held.iss = claim.iss AND held.jti = claim.jti;
        answers[claim.ord] := CASE WHEN holder = claim.token_hash THEN 'same-token' ELSE 'reused' END;
      END IF;
    END LOOP;
    RETURN answers;
  END
  $$;
  `,
  `
  -- The key change feed (Store.keyChangesSince), as in SQLite's migration 7: each key records the
  -- revision of its last change, stamped by a trigger so that no write can change a key without
  -- it (an older node beside a newer one included). The trigger takes the meta row's lock, held
  -- to the end of the transaction, so revisions are handed out in commit order: a reader that sees
  -- a revision sees every one below it. Keys from before this step keep no revision, and every
  -- key is carried over.
  ALTER TABLE keys ADD COLUMN revision BIGINT;
  CREATE UNIQUE INDEX keys_by_revision ON keys (revision);
  CREATE FUNCTION keygate_stamp_key_revision() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE meta SET value = value + 1 WHERE name = 'key_revision' RETURNING value INTO NEW.revision;
    RETURN NEW;
  END
  $$;
  CREATE TRIGGER keys_feed_insert BEFORE INSERT ON keys
    FOR EACH ROW EXECUTE FUNCTION keygate_stamp_key_revision();
  CREATE TRIGGER keys_feed_update BEFORE UPDATE ON keys
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
      OR OLD.revokes_at IS DISTINCT FROM NEW.revokes_at OR OLD.replaced_by IS DISTINCT FROM NEW.replaced_by)
    EXECUTE FUNCTION keygate_stamp_key_revision();
  `,
  `
  -- The audit trail, as SQLite's migration 8: one row per event, never updated; an event that
  -- records a change is written in the transaction that makes it. The identity never hands out
  -- an id twice, so a reader's cursor (before) always means the same place.
  CREATE TABLE audit_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    org_id TEXT COLLATE "C",
    actor_type TEXT NOT NULL CHECK (actor_type IN ('operator', 'user', 'key', 'anonymous', 'system')),
    actor_id TEXT COLLATE "C",
    action TEXT NOT NULL,
    target TEXT COLLATE "C",
    detail JSONB NOT NULL DEFAULT '{}'
  );
  CREATE INDEX audit_events_by_org ON audit_events (org_id, id);
  CREATE INDEX audit_events_by_at ON audit_events (at);
  CREATE FUNCTION keygate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'audit events are append-only';
  END $$;
  CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION keygate_audit_append_only();
  `,
  `
  -- Key usage (Store.recordKeyUse), as in SQLite's migration 9: per key, how many tokens were
  -- accepted and refused per reason code, added to by every node's batched flushes.
  CREATE TABLE key_usage (
    kid TEXT COLLATE "C" NOT NULL REFERENCES keys (id),
    outcome TEXT COLLATE "C" NOT NULL,
    count BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (kid, outcome)
  );
  `,
];

/**
 * The advisory lock every Keygate node takes to migrate: 'keygate' in ASCII, one number they all
 * agree on and another application is unlikely to pick. Session-level, on a connection of its
 * own, so that a node that dies half-way releases it with its connection.
 */
const MIGRATION_LOCK = String(BigInt(`0x${Buffer.from('keygate').toString('hex')}`));

/**
 * Brings the schema to the newest version. Nodes starting at once queue on the advisory lock;
 * each step re-reads the version inside its own transaction, so every migration runs once, and
 * one that fails leaves the schema at the version before it.
 */
export async function migrate(config: pg.ClientConfig): Promise<void> {
  const client = new pg.Client(config);
  // The error also fails the query in flight; unheard, it would end the process.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    for (let target = 1; target <= POSTGRES_MIGRATIONS.length; target++) {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query(
          'SELECT coalesce(max(version), 0) AS version FROM schema_migrations',
        );
        if (Number(rows[0]?.version) < target) {
          await client.query(POSTGRES_MIGRATIONS[target - 1] as string);
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [target]);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
  } finally {
    // Ending the session releases the lock, whether or not the steps succeeded.
    await client.end().catch(() => {});
  }
}
