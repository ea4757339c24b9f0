DROP TABLE IF EXISTS rate_windows;
CREATE TABLE IF NOT EXISTS login_attempts (
  bucket       text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  attempts     integer NOT NULL
);
