-- Of the given sent requests, those a later request of ours for the same milestone has already
-- followed: BeProduct may hold the later request's values instead, which is our own doing.
SELECT a.id, min(b.id) AS later_id
FROM ops.timeline_change_request AS a
JOIN ops.timeline_change_request AS b
  ON b.milestone_id = a.milestone_id AND b.id > a.id
 AND b.state IN ('sending', 'sent', 'confirmed')
WHERE a.id = ANY (%(ids)s::bigint[])
GROUP BY a.id
