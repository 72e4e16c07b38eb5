-- A migration applied by `beproduct-sync migrate` (source 'beproduct-sync'), or found applied
-- in Supabase's history (source 'supabase').
INSERT INTO ops.schema_migrations (version, name, checksum, content_key, source)
VALUES (%(version)s, %(name)s, %(checksum)s, %(content_key)s, %(source)s)
