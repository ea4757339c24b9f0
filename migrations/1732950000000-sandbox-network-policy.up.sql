-- The sandbox's egress policy ({allowOut, denyOut, allowInternetAccess}); NULL = the defaults.
ALTER TABLE sandboxes ADD COLUMN IF NOT EXISTS network jsonb;
