INSERT INTO ops.import_errors (sync_log_id, entity_type, entity_id, severity, message, attempt)
SELECT x.sync_log_id, 'tracking', x.entity_id, x.severity, x.message, x.attempt
FROM jsonb_to_recordset(%(rows)s::jsonb)
    AS x(sync_log_id bigint, entity_id text, severity text, message text, attempt integer)
