-- Schedule the API fetches the applied events of a batch need, for all their plans at once
-- (one row per plan in %(rows)s: plan_id, folder_id, template_ids); runs inside the apply
-- transaction. A plan needs a fetch when it was never enriched, when its details are older than
-- the TTL (0 = never refetch), or when an event references a milestone definition that has no
-- name and appeared after the plan's last fetch (a definition added to the plan since). The
-- folder list needs a fetch when an event's folder has no details or they are older than the TTL.
-- ON CONFLICT DO NOTHING: an outstanding job already covers it, and no row lock is taken.
WITH ev AS (
    SELECT *
    FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS ev(plan_id uuid, folder_id uuid, template_ids uuid[])
),
plan_need AS (
    SELECT 'plan'::text AS kind, p.id AS entity_id
    FROM ev JOIN ops.tracking_plan p ON p.id = ev.plan_id
    WHERE p.enriched_at IS NULL
       OR (%(ttl_seconds)s > 0
           AND p.enriched_at < now() - make_interval(secs => %(ttl_seconds)s))
       OR EXISTS (
           SELECT 1 FROM ops.tracking_timeline_template_item t
           WHERE t.id = ANY (ev.template_ids)
             AND t.name IS NULL
             AND t.created_at > p.enriched_at)
),
folder_need AS (
    SELECT DISTINCT 'folders'::text AS kind,
           '00000000-0000-0000-0000-000000000000'::uuid AS entity_id
    FROM ops.tracking_folder f
    WHERE f.id IN (SELECT ev.folder_id FROM ev)
      AND (f.enriched_at IS NULL
           OR (%(ttl_seconds)s > 0
               AND f.enriched_at < now() - make_interval(secs => %(ttl_seconds)s)))
),
-- An insert of a key another transaction is inserting waits for it, so every applier takes the
-- keys in one order: the shared folder-list job first, then the plans by id (no deadlock).
added AS (
    INSERT INTO ops.enrichment_job (kind, entity_id)
    SELECT kind, entity_id
    FROM (SELECT kind, entity_id FROM folder_need
          UNION ALL
          SELECT kind, entity_id FROM plan_need) AS need
    ORDER BY kind = 'plan', entity_id
    ON CONFLICT (kind, entity_id) DO NOTHING
    RETURNING kind, entity_id
)
SELECT kind, entity_id::text AS entity_id FROM added
