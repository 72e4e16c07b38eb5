-- Events received per minute over the last 24 hours (distinct bodies; duplicates are counted
-- on their first row's deliveries, not here), every minute present, oldest first.
WITH span AS (
    SELECT date_trunc('minute', now()) - interval '1439 minutes' AS first,
           date_trunc('minute', now()) AS last
), counted AS (
    SELECT date_trunc('minute', received_at) AS minute, count(*) AS events
    FROM ops.beproduct_sync_log, span
    WHERE received_at >= span.first
    GROUP BY 1
)
SELECT m.minute, coalesce(c.events, 0) AS events
FROM span, generate_series(span.first, span.last, interval '1 minute') AS m (minute)
LEFT JOIN counted AS c ON c.minute = m.minute
ORDER BY m.minute
