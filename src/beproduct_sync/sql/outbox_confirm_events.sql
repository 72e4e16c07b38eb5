-- Confirm, from applied webhook events, the sending or sent requests whose milestone the event
-- shows holding every requested value (inside the apply transaction). Such an event is
-- BeProduct's own word that our write took effect — the echo of our write — so it confirms and
-- is never judged a conflict. Events stamped more than five minutes (clock skew) before the
-- request was claimed predate it and confirm nothing.
WITH e AS (
    SELECT *
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS e(
        log_id bigint, id uuid, status text, rev_date date, final_date date,
        assignees uuid[], share uuid[], at timestamptz)
)
UPDATE ops.timeline_change_request AS r
SET state = 'confirmed',
    confirmed_at = clock_timestamp(),
    confirmed_by = 'echo',
    confirmed_event_id = e.log_id,
    sent_at = coalesce(r.sent_at, clock_timestamp()),  -- the echo beat the sender's bookkeeping
    locked_by = NULL,
    locked_until = NULL,
    updated_at = clock_timestamp()
FROM e
WHERE r.milestone_id = e.id
  AND r.state IN ('sending', 'sent')
  AND e.at >= coalesce(r.sent_at, r.updated_at) - interval '5 minutes'
  AND (NOT 'status' = ANY (r.changes) OR r.status::text IS NOT DISTINCT FROM e.status)
  AND (NOT 'rev_date' = ANY (r.changes) OR r.rev_date IS NOT DISTINCT FROM e.rev_date)
  AND (NOT 'final_date' = ANY (r.changes) OR r.final_date IS NOT DISTINCT FROM e.final_date)
  AND r.assignees_add <@ coalesce(e.assignees, '{}')
  AND NOT (r.assignees_remove && coalesce(e.assignees, '{}'))
  AND r.share_add <@ coalesce(e.share, '{}')
  AND NOT (r.share_remove && coalesce(e.share, '{}'))
RETURNING r.id, r.confirmed_event_id
