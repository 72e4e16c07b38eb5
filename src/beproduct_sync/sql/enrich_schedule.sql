-- Schedule the API fetches one applied event needs; runs inside the event's apply transaction.
-- A plan needs a fetch when it was never enriched, when its details are older than the TTL
-- (0 = never refetch), or when the event references a milestone definition that has no name
-- and appeared after the plan's last fetch (a definition added to the plan since). The folder
-- list needs a fetch when the event's folder has no details or they are older than the TTL.
-- ON CONFLICT DO NOTHING: an outstanding job already covers it, and no row lock is taken.
WITH plan_need AS (
    SELECT 'plan'::text AS kind, p.id AS entity_id
    FROM ops.tracking_plan p
    WHERE p.id = %(plan_id)s
      AND (p.enriched_at IS NULL
           OR (%(ttl_seconds)s > 0
               AND p.enriched_at < now() - make_interval(secs => %(ttl_seconds)s))
           OR EXISTS (
               SELECT 1 FROM ops.tracking_timeline_template_item t
               WHERE t.id = ANY (%(template_ids)s::uuid[])
                 AND t.name IS NULL
                 AND t.created_at > p.enriched_at))
),
folder_need AS (
    SELECT 'folders'::text AS kind, '00000000-0000-0000-0000-000000000000'::uuid AS entity_id
    FROM ops.tracking_folder f
    WHERE f.id = %(folder_id)s
      AND (f.enriched_at IS NULL
           OR (%(ttl_seconds)s > 0
               AND f.enriched_at < now() - make_interval(secs => %(ttl_seconds)s)))
),
-- The folder-list job is queued before the plan job: an insert of a key another transaction is
-- inserting waits for it, so every applier takes the shared key first (one order, no deadlock).
added AS (
    INSERT INTO ops.enrichment_job (kind, entity_id)
    SELECT kind, entity_id FROM folder_need
    UNION ALL
    SELECT kind, entity_id FROM plan_need
    ON CONFLICT (kind, entity_id) DO NOTHING
    RETURNING kind
)
SELECT count(*) FILTER (WHERE kind = 'plan') AS plan_jobs,
       count(*) FILTER (WHERE kind = 'folders') AS folder_jobs
FROM added
