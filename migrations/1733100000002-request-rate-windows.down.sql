DROP TABLE IF EXISTS request_rate_windows;
