-- For each claimed request, the values earlier requests of ours for the same milestone set and
-- which were not yet confirmed when it was recorded: its base (our row then) could not show
-- them, so finding them is our own doing, not someone else's change.
SELECT b.id AS request_id, a.changes, a.status::text AS status, a.rev_date, a.final_date
FROM ops.timeline_change_request AS b
JOIN ops.timeline_change_request AS a
  ON a.milestone_id = b.milestone_id AND a.id < b.id
 AND a.state IN ('sending', 'sent', 'confirmed')
 AND (a.confirmed_at IS NULL OR a.confirmed_at >= b.requested_at)
WHERE b.id = ANY (%(ids)s::bigint[])
