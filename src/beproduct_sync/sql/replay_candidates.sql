-- Events an operator chose to replay (also the --dry-run listing). Rows still queued (pending,
-- processing) are never chosen: a worker has them already. NULL filters match everything.
SELECT id, status, action, style_number, received_at, attempts, last_error
FROM ops.beproduct_sync_log
WHERE status = ANY(%(statuses)s::text[])
  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
  AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR received_at < %(until)s::timestamptz)
ORDER BY id
