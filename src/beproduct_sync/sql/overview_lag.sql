-- Receive → applied lag (seconds) of the events applied in the last hour: count, p50, p95.
-- received_at is the first delivery, so a replayed event counts from when it first came.
SELECT count(*) AS applied,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM processed_at - received_at)) AS p50,
       percentile_cont(0.95) WITHIN GROUP (
           ORDER BY extract(epoch FROM processed_at - received_at)) AS p95
FROM ops.beproduct_sync_log
WHERE processed_at > now() - interval '1 hour' AND status = 'applied'
