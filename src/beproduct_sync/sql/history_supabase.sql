-- Supabase's migration history, as `supabase db push` writes it: one row per pushed file, its
-- statements as the CLI split them (migrations/history.py compares them by content).
SELECT version, name, statements FROM supabase_migrations.schema_migrations
