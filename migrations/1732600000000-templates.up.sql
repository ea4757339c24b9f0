-- Snapshot templates (read model of evt.template.*) and what sandboxes need for pause and templates.
CREATE TABLE templates (
  id                text PRIMARY KEY,
  team_id           text NOT NULL,
  name              text NOT NULL,
  state             text NOT NULL,
  source_sandbox_id text NOT NULL,
  host_id           text NOT NULL,
  vcpus             integer NOT NULL,
  memory_mb         integer NOT NULL,
  size_bytes        bigint,
  failure_reason    text,
  version           bigint NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX templates_team_name ON templates (team_id, name) WHERE state <> 'deleted';

ALTER TABLE sandboxes ADD COLUMN template_id text;
ALTER TABLE sandboxes ADD COLUMN snapshot_size_bytes bigint;
CREATE INDEX sandboxes_template ON sandboxes (template_id) WHERE template_id IS NOT NULL;
