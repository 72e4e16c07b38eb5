-- Reset the stored token to BEPRODUCT_REFRESH_TOKEN when the row was started from another
-- configured token (the operator issued a new one); a no-op while the configuration is unchanged.
-- The generation keeps counting up, so a late write from a process of the old configuration
-- stays behind (api_token_save also checks the configuration).
INSERT INTO ops.beproduct_api_token AS t
    (client_id, configured_token_sha256, refresh_token, generation, updated_at)
VALUES (%(client_id)s, %(configured_sha256)s, %(configured_token)s, 0, now())
ON CONFLICT (client_id) DO UPDATE
SET configured_token_sha256 = EXCLUDED.configured_token_sha256,
    refresh_token = EXCLUDED.refresh_token,
    generation = t.generation + 1,
    updated_at = EXCLUDED.updated_at
WHERE t.configured_token_sha256 <> EXCLUDED.configured_token_sha256
