-- API keys may be narrowed (read_only: GET calls only; sandbox: sandbox and E2B calls only) and
-- may expire. Existing keys keep full access and no expiry.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'sandbox', 'read_only'));
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;
