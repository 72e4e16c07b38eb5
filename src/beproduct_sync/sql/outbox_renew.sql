-- Extend this sender's lease on requests it is about to send; the ids still ours. A request
-- another sender took over (the lease ran out during a long rate-limit pause) is not sent
-- twice from here.
UPDATE ops.timeline_change_request
SET locked_until = now() + make_interval(secs => %(lease_seconds)s)
WHERE id = ANY (%(ids)s::bigint[]) AND locked_by = %(owner)s AND state = 'sending'
RETURNING id
