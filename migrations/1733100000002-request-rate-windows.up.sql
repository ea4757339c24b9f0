-- Sliding-window counters of every authenticated call, per key (or user) and per client address,
-- shared by every gateway replica. The same shape as rate_windows, in a table of its own so the
-- gateway's role can write these and nothing of the auth service's.
CREATE TABLE request_rate_windows (
  bucket     text PRIMARY KEY,
  window_sec integer NOT NULL,
  win        bigint NOT NULL,
  current    integer NOT NULL,
  previous   integer NOT NULL
);
