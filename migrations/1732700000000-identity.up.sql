-- Identity: users, teams, memberships and API keys live here (the auth service owns them);
-- every change is also an event on the log, relayed from identity_outbox so none is lost.
CREATE TABLE users (
  id            text PRIMARY KEY,
  email         text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
  team_id    text NOT NULL REFERENCES teams (id),
  user_id    text NOT NULL REFERENCES users (id),
  role       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (team_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Only the SHA-256 of a key is kept; the prefix is what users see to tell keys apart.
CREATE TABLE api_keys (
  id         text PRIMARY KEY,
  team_id    text NOT NULL REFERENCES teams (id),
  created_by text NOT NULL REFERENCES users (id),
  name       text NOT NULL,
  prefix     text NOT NULL,
  key_hash   text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX api_keys_team ON api_keys (team_id, created_at DESC);

-- Fixed-window counters of login attempts, per email and per client address, shared by every
-- gateway and auth replica.
CREATE TABLE login_attempts (
  bucket       text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  attempts     integer NOT NULL
);

-- Secrets the platform generates for itself when none is configured (e.g. the JWT key).
CREATE TABLE platform_secrets (
  name       text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Events written in the same transaction as the rows they describe, published to the log by
-- the auth service's relay and deleted once JetStream acknowledged them.
CREATE TABLE identity_outbox (
  id         text PRIMARY KEY,
  aggregate  text NOT NULL,
  aggregate_id text NOT NULL,
  type       text NOT NULL,
  data       jsonb NOT NULL,
  actor      text NOT NULL,
  team_id    text NOT NULL,
  correlation_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
