-- Inbox hardening.
--
-- raw_body: jsonb cannot hold the NUL character, so a body with "\u0000" in a string is stored
-- with NUL replaced by U+FFFD in `payload`, and the body exactly as received is kept here. NULL
-- when nothing had to be replaced (the usual case), so it costs nothing for ordinary events.
ALTER TABLE ops.beproduct_sync_log ADD COLUMN IF NOT EXISTS raw_body bytea;
COMMENT ON COLUMN ops.beproduct_sync_log.raw_body IS
    'The body exactly as received, kept only when payload had to be altered to fit jsonb'
    ' (NUL characters replaced by U+FFFD); NULL otherwise.';

-- claims: how many times workers have claimed the event. `attempts` only grows when an apply
-- finishes, so an event that kills its worker (out of memory, kill -9) or outlives its lease
-- every time would be claimed forever; past the maximum number of attempts the worker
-- dead-letters it instead of applying it. Replay sets it back to 0.
ALTER TABLE ops.beproduct_sync_log ADD COLUMN IF NOT EXISTS claims integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN ops.beproduct_sync_log.claims IS
    'Times a worker claimed this event since it was received or last replayed';

-- processed_at is left NULL for events whose `date` Postgres cannot read as a timestamp, so the
-- runbook query casting (payload->>'date')::timestamptz over recently processed events keeps
-- working. Events settled before this migration get the same treatment once; nothing else
-- about them changes.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT id, payload->'date' AS d
        FROM ops.beproduct_sync_log
        WHERE processed_at IS NOT NULL
          AND jsonb_typeof(payload) = 'object'
          AND coalesce(jsonb_typeof(payload->'date'), 'null') <> 'null'
    LOOP
        IF jsonb_typeof(r.d) <> 'string' THEN
            UPDATE ops.beproduct_sync_log SET processed_at = NULL WHERE id = r.id;
        ELSE
            BEGIN
                PERFORM (r.d #>> '{}')::timestamptz;
            EXCEPTION WHEN others THEN
                UPDATE ops.beproduct_sync_log SET processed_at = NULL WHERE id = r.id;
            END;
        END IF;
    END LOOP;
END
$$;
