-- The record versions stored for a page's rows: a row whose stored version equals the API
-- row's version (modifiedAt plus content hash) was already written from this exact content.
SELECT id::text AS id, record_version::text AS version FROM {record_table} WHERE id = ANY(%(ids)s::uuid[])
