DROP TABLE IF EXISTS usage_intervals;
DROP TABLE IF EXISTS usage_sandboxes;
DROP TABLE IF EXISTS audit_log;
