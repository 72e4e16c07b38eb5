-- The BeProduct API as each component last saw it (see api.health).
SELECT component, rate_limit, rate_remaining, rate_reset_at, calls, pauses, last_ok_at,
       last_error, last_error_at, updated_at
FROM ops.api_health
ORDER BY component
