-- Our migration history (migrations/history.py). Read through to_jsonb so that a table older
-- than its content_key and source columns (added by 20261201000015) reads the same way.
SELECT m.version,
       m.name,
       m.checksum,
       to_jsonb(m) ->> 'content_key' AS content_key,
       coalesce(to_jsonb(m) ->> 'source', 'beproduct-sync') AS source
FROM ops.schema_migrations AS m
