-- Store a rotated refresh token. Guarded: only a newer generation of the same configuration
-- replaces the stored one, so a delayed write of an older rotation never overwrites a newer one,
-- and a process still running with a replaced BEPRODUCT_REFRESH_TOKEN never undoes the reset.
INSERT INTO ops.beproduct_api_token AS t
    (client_id, configured_token_sha256, refresh_token, generation, updated_at)
VALUES (%(client_id)s, %(configured_sha256)s, %(refresh_token)s, %(generation)s, now())
ON CONFLICT (client_id) DO UPDATE
SET refresh_token = EXCLUDED.refresh_token,
    generation = EXCLUDED.generation,
    updated_at = EXCLUDED.updated_at
WHERE t.configured_token_sha256 = EXCLUDED.configured_token_sha256
  AND t.generation < EXCLUDED.generation
