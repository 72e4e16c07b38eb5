-- Send conflicted, rejected or dead requests again: back to pending, due now, attempts and
-- claims from zero; `force` (when true) skips the conflict checks this time. Earlier errors and
-- conflict details stay until overwritten.
UPDATE ops.timeline_change_request
SET state = 'pending',
    attempts = 0,
    claims = 0,
    next_attempt_at = now(),
    force = force OR %(force)s,
    locked_by = NULL,
    locked_until = NULL,
    updated_at = clock_timestamp()
WHERE id = ANY (%(ids)s::bigint[]) AND state IN ('conflict', 'rejected', 'dead')
RETURNING id
