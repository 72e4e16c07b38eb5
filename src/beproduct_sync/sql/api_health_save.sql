-- One component's latest view of the BeProduct API (api.health): overwritten each time.
INSERT INTO ops.api_health AS h (
    component, rate_limit, rate_remaining, rate_reset_at, calls, pauses,
    last_ok_at, last_error, last_error_at, updated_at
)
VALUES (
    %(component)s, %(rate_limit)s, %(rate_remaining)s, %(rate_reset_at)s, %(calls)s,
    %(pauses)s, %(last_ok_at)s, %(last_error)s, %(last_error_at)s, now()
)
ON CONFLICT (component) DO UPDATE
SET rate_limit = coalesce(EXCLUDED.rate_limit, h.rate_limit),
    rate_remaining = coalesce(EXCLUDED.rate_remaining, h.rate_remaining),
    rate_reset_at = coalesce(EXCLUDED.rate_reset_at, h.rate_reset_at),
    calls = EXCLUDED.calls,
    pauses = EXCLUDED.pauses,
    last_ok_at = coalesce(EXCLUDED.last_ok_at, h.last_ok_at),
    last_error = coalesce(EXCLUDED.last_error, h.last_error),
    last_error_at = coalesce(EXCLUDED.last_error_at, h.last_error_at),
    updated_at = now()
