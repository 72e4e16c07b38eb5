-- Change requests per state (reverse sync), for `status` and the metrics.
SELECT state, count(*)::int AS count
FROM ops.timeline_change_request
GROUP BY state
