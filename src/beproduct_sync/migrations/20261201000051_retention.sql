-- Retention: `beproduct-sync prune` and the scheduled prune of `serve` delete old settled inbox
-- rows and old import errors through these two functions. They run with the owner's rights
-- (SECURITY DEFINER) so the service role needs no DELETE on the audit tables, only EXECUTE here,
-- and they enforce the rules whoever calls them: pending and processing rows are never deleted,
-- and each call is one short batch that skips rows another transaction holds (SKIP LOCKED), so
-- a prune never makes the receiver or a worker wait.

-- One batch of the walk over the inbox in id order: the `batch_size` rows after `after_id`;
-- of those, deletes the ones in `statuses` received before `cutoff` (and their import errors).
-- Returns the last id looked at, the oldest received_at among the rows looked at (the walk stops
-- once it reaches rows newer than the cutoff), and how many rows and errors were (with
-- dry_run: would be) deleted.
CREATE OR REPLACE FUNCTION ops.prune_inbox_batch(
    statuses text[], cutoff timestamptz, after_id bigint, batch_size integer, dry_run boolean
)
RETURNS TABLE (last_id bigint, oldest timestamptz, deleted integer, errors_deleted integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = ''
AS $fn$
DECLARE
    ids bigint[];
BEGIN
    IF statuses && ARRAY['pending', 'processing']::text[] THEN
        RAISE EXCEPTION 'pending and processing events are never pruned';
    END IF;
    SELECT max(s.id), min(s.received_at),
           coalesce(array_agg(s.id) FILTER (WHERE s.status = ANY(statuses)
                                            AND s.received_at < cutoff), '{}')
      INTO last_id, oldest, ids
      FROM (SELECT l.id, l.status, l.received_at
              FROM ops.beproduct_sync_log AS l
             WHERE l.id > after_id
             ORDER BY l.id
             LIMIT batch_size) AS s;
    IF dry_run THEN
        deleted := cardinality(ids);
        SELECT count(*) INTO errors_deleted FROM ops.import_errors AS e
         WHERE e.sync_log_id = ANY(ids);
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT coalesce(array_agg(x.id), '{}') INTO ids
      FROM (SELECT l.id FROM ops.beproduct_sync_log AS l
             WHERE l.id = ANY(ids) AND l.status = ANY(statuses)
               FOR UPDATE SKIP LOCKED) AS x;
    WITH gone AS (DELETE FROM ops.import_errors AS e WHERE e.sync_log_id = ANY(ids) RETURNING 1)
    SELECT count(*) INTO errors_deleted FROM gone;
    WITH gone AS (DELETE FROM ops.beproduct_sync_log AS l WHERE l.id = ANY(ids) RETURNING 1)
    SELECT count(*) INTO deleted FROM gone;
    RETURN NEXT;
END
$fn$;

-- One batch of import errors created before `cutoff` (oldest first); returns how many were
-- (with dry_run: how many in all would be) deleted.
CREATE OR REPLACE FUNCTION ops.prune_import_errors(
    cutoff timestamptz, batch_size integer, dry_run boolean
)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = ''
AS $fn$
DECLARE
    n integer;
BEGIN
    IF dry_run THEN
        SELECT count(*) INTO n FROM ops.import_errors AS e WHERE e.created_at < cutoff;
        RETURN n;
    END IF;
    WITH doomed AS (
        SELECT e.id FROM ops.import_errors AS e
         WHERE e.created_at < cutoff
         ORDER BY e.created_at
         LIMIT batch_size
           FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM ops.import_errors AS e USING doomed WHERE e.id = doomed.id RETURNING 1
    )
    SELECT count(*) INTO n FROM gone;
    RETURN n;
END
$fn$;

REVOKE ALL ON FUNCTION ops.prune_inbox_batch(text[], timestamptz, bigint, integer, boolean)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION ops.prune_import_errors(timestamptz, integer, boolean) FROM PUBLIC;
DO $$
DECLARE
    r text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        GRANT EXECUTE ON FUNCTION
            ops.prune_inbox_batch(text[], timestamptz, bigint, integer, boolean)
            TO beproduct_sync_service;
        GRANT EXECUTE ON FUNCTION ops.prune_import_errors(timestamptz, integer, boolean)
            TO beproduct_sync_service;
    END IF;
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON FUNCTION ops.prune_inbox_batch(text[], timestamptz,'
                           ' bigint, integer, boolean) FROM %I', r);
            EXECUTE format('REVOKE ALL ON FUNCTION ops.prune_import_errors(timestamptz,'
                           ' integer, boolean) FROM %I', r);
        END IF;
    END LOOP;
END
$$;
