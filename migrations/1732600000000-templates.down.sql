DROP INDEX IF EXISTS sandboxes_template;
ALTER TABLE sandboxes DROP COLUMN IF EXISTS snapshot_size_bytes;
ALTER TABLE sandboxes DROP COLUMN IF EXISTS template_id;
DROP TABLE IF EXISTS templates;
