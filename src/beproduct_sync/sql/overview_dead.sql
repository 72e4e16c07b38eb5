-- Dead letters, newest first, with the reason they died (served by beproduct_sync_log_status_idx).
SELECT id, action, style_number, entity_id, received_at, processed_at, attempts,
       coalesce(last_error, reason) AS reason
FROM ops.beproduct_sync_log
WHERE status = 'dead'
ORDER BY id DESC
LIMIT %(limit)s
