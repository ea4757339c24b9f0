-- Sliding-window rate counters (signup, login), shared by every gateway and auth replica. A
-- bucket keeps the count of its current fixed window and of the one before; the sliding count is
-- previous × (the part of the previous window still inside the slide) + current.
CREATE TABLE rate_windows (
  bucket     text PRIMARY KEY,
  window_sec integer NOT NULL,
  win        bigint NOT NULL,
  current    integer NOT NULL,
  previous   integer NOT NULL
);

-- The fixed-window login counters are replaced by the sliding windows above.
DROP TABLE IF EXISTS login_attempts;
