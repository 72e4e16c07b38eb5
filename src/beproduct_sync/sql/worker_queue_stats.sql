-- Events still to be worked on and the age of the oldest one (served by the partial indexes).
SELECT count(*) AS depth,
       extract(epoch FROM clock_timestamp() - min(received_at))::float8 AS oldest_seconds
FROM ops.beproduct_sync_log
WHERE status IN ('pending', 'processing', 'failed')
