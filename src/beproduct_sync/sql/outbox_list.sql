-- Change requests, newest first, optionally of some states and ids.
SELECT id, idempotency_key, requested_by, requested_at, entity_type, milestone_id::text,
       plan_id::text, change, force, base, state, attempts, next_attempt_at, sent_at,
       confirmed_at, confirmed_by, confirmed_event_id, conflict, last_error, beproduct_response,
       updated_at
FROM ops.timeline_change_request
WHERE (cardinality(%(states)s::text[]) = 0 OR state = ANY (%(states)s::text[]))
  AND (cardinality(%(ids)s::bigint[]) = 0 OR id = ANY (%(ids)s::bigint[]))
ORDER BY id DESC
LIMIT %(limit)s
