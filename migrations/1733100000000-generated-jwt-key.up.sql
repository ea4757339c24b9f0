-- The JWT key is generated here rather than by the first service that needs it, so the gateway's
-- role can be read-only: auth signs with it, the gateway only reads it. gen_random_uuid() draws
-- from the server's strong random source; two of them give 244 random bits.
INSERT INTO platform_secrets (name, value)
VALUES ('jwt_hs256', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
ON CONFLICT (name) DO NOTHING;
