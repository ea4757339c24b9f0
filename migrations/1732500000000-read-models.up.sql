-- Read models projected from the event log, and the bookkeeping of the projections.
CREATE TABLE sandboxes (
  id             text PRIMARY KEY,
  team_id        text NOT NULL,
  state          text NOT NULL,
  template       text NOT NULL,
  vcpus          integer NOT NULL,
  memory_mb      integer NOT NULL,
  timeout_sec    integer NOT NULL,
  host_id        text,
  boot_id        text,
  failure_reason text,
  snapshot_ref   text,
  version        bigint NOT NULL,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);
CREATE INDEX sandboxes_team_created ON sandboxes (team_id, created_at DESC);
CREATE INDEX sandboxes_host_state ON sandboxes (host_id, state);

CREATE TABLE projection_checkpoints (
  projection text PRIMARY KEY,
  position   bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dead_letters (
  id          bigserial PRIMARY KEY,
  projection  text NOT NULL,
  stream_seq  bigint NOT NULL,
  subject     text NOT NULL,
  event_type  text,
  event_id    text,
  reason      text NOT NULL,
  payload     text NOT NULL,
  headers     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (projection, stream_seq)
);
