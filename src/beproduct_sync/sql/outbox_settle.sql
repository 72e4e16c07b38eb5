-- Settle requests this sender holds (`locked_by` = %(owner)s, in state %(from_state)s), each with
-- its own outcome: sent, confirmed, conflict, rejected, dead, or pending again after a
-- transient failure (`retry_seconds` from now, one more attempt counted). A request another
-- sender took over, or an echo confirmed meanwhile, is left alone.
WITH x AS (
    SELECT *
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
        id bigint, state text, conflict jsonb, last_error text, response jsonb,
        confirmed_by text, retry_seconds double precision, attempt boolean)
)
UPDATE ops.timeline_change_request AS r
SET state = x.state,
    attempts = r.attempts + CASE WHEN x.attempt THEN 1 ELSE 0 END,
    next_attempt_at = CASE WHEN x.state = 'pending'
                           THEN now() + make_interval(secs => coalesce(x.retry_seconds, 0))
                           ELSE r.next_attempt_at END,
    sent_at = CASE WHEN x.state = 'sent' THEN clock_timestamp() ELSE r.sent_at END,
    confirmed_at = CASE WHEN x.state = 'confirmed' THEN clock_timestamp()
                        ELSE r.confirmed_at END,
    confirmed_by = CASE WHEN x.state = 'confirmed' THEN x.confirmed_by ELSE r.confirmed_by END,
    conflict = coalesce(x.conflict, r.conflict),
    last_error = coalesce(x.last_error, r.last_error),
    beproduct_response = coalesce(x.response, r.beproduct_response),
    locked_by = NULL,
    locked_until = NULL,
    updated_at = clock_timestamp()
FROM x
WHERE r.id = x.id AND r.locked_by = %(owner)s AND r.state = %(from_state)s
RETURNING r.id, r.state
