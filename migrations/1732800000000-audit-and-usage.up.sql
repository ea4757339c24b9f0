-- Audit log: one row per event of any aggregate, keyed by its stream sequence.
CREATE TABLE audit_log (
  seq            bigint PRIMARY KEY,
  event_id       text NOT NULL,
  team_id        text NOT NULL,
  actor_kind     text NOT NULL,
  actor_id       text NOT NULL,
  event_type     text NOT NULL,
  event_version  integer NOT NULL,
  resource_type  text NOT NULL,
  resource_id    text NOT NULL,
  correlation_id text NOT NULL,
  causation_id   text NOT NULL,
  occurred_at    timestamptz NOT NULL
);
CREATE INDEX audit_log_team_seq ON audit_log (team_id, seq DESC);
CREATE INDEX audit_log_team_resource_seq ON audit_log (team_id, resource_type, resource_id, seq DESC);

-- Billing: what each sandbox is sized at, and the intervals it was running or held a snapshot.
CREATE TABLE usage_sandboxes (
  sandbox_id text PRIMARY KEY,
  team_id    text NOT NULL,
  vcpus      integer NOT NULL,
  memory_mb  integer NOT NULL
);

-- kind 'compute': running, weighted by vcpus and memory_mb; kind 'storage': paused, weighted by
-- size_bytes. Times are epoch milliseconds from the events' occurredAt; end_ms is NULL while open.
CREATE TABLE usage_intervals (
  sandbox_id text NOT NULL,
  start_seq  bigint NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('compute', 'storage')),
  team_id    text NOT NULL,
  start_ms   bigint NOT NULL,
  end_ms     bigint,
  vcpus      integer NOT NULL,
  memory_mb  integer NOT NULL,
  size_bytes bigint NOT NULL,
  PRIMARY KEY (sandbox_id, start_seq, kind),
  CHECK (end_ms IS NULL OR end_ms >= start_ms)
);
CREATE INDEX usage_intervals_team_start ON usage_intervals (team_id, start_ms);
CREATE INDEX usage_intervals_open ON usage_intervals (sandbox_id) WHERE end_ms IS NULL;
