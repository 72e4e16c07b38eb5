-- Content keys for rows recorded before the column existed, where the recorded checksum shows
-- the bundled file is the one that was applied.
UPDATE ops.schema_migrations AS m
SET content_key = x.content_key
FROM jsonb_to_recordset(%(rows)s) AS x(version text, checksum text, content_key text)
WHERE m.version = x.version AND m.checksum = x.checksum AND m.content_key IS NULL
