SELECT e.created_at, e.severity, e.entity_type, e.entity_id, e.sync_log_id, e.message
FROM ops.import_errors e
ORDER BY e.created_at DESC, e.id DESC
LIMIT %(limit)s
