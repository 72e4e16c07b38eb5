INSERT INTO ops.import_errors (sync_log_id, entity_type, entity_id, severity, message, attempt)
SELECT %(sync_log_id)s, %(entity_type)s, x.entity_id, %(severity)s, x.message, %(attempt)s
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(entity_id text, message text)
