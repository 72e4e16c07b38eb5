-- What the current role lacks of the privileges the service uses: those migrations
-- 20261201000010, 20261201000050 and 20261201000080 grant beproduct_sync_service (keep the
-- lists equal). One row per missing privilege; none for the owner, superusers and members of
-- beproduct_sync_service. Objects are
-- found by name in the catalog and checked by oid, so a role without USAGE on ops gets an
-- answer, not an error.
WITH needed (relname, privilege) AS (
    VALUES
        ('tracking_folder', 'SELECT'), ('tracking_folder', 'INSERT'),
        ('tracking_folder', 'UPDATE'),
        ('tracking_plan', 'SELECT'), ('tracking_plan', 'INSERT'), ('tracking_plan', 'UPDATE'),
        ('tracking_timeline_template_item', 'SELECT'),
        ('tracking_timeline_template_item', 'INSERT'),
        ('tracking_timeline_template_item', 'UPDATE'),
        ('tracking_plan_style', 'SELECT'), ('tracking_plan_style', 'INSERT'),
        ('tracking_plan_style', 'UPDATE'),
        ('tracking_plan_material', 'SELECT'), ('tracking_plan_material', 'INSERT'),
        ('tracking_plan_material', 'UPDATE'),
        ('tracking_plan_style_timeline', 'SELECT'), ('tracking_plan_style_timeline', 'INSERT'),
        ('tracking_plan_style_timeline', 'UPDATE'),
        ('tracking_plan_material_timeline', 'SELECT'),
        ('tracking_plan_material_timeline', 'INSERT'),
        ('tracking_plan_material_timeline', 'UPDATE'),
        ('tracking_timeline_assignment', 'SELECT'), ('tracking_timeline_assignment', 'INSERT'),
        ('tracking_timeline_assignment', 'UPDATE'), ('tracking_timeline_assignment', 'DELETE'),
        ('tracking_material_timeline_assignment', 'SELECT'),
        ('tracking_material_timeline_assignment', 'INSERT'),
        ('tracking_material_timeline_assignment', 'UPDATE'),
        ('tracking_material_timeline_assignment', 'DELETE'),
        ('beproduct_sync_log', 'SELECT'), ('beproduct_sync_log', 'INSERT'),
        ('beproduct_sync_log', 'UPDATE'),
        ('import_errors', 'SELECT'), ('import_errors', 'INSERT'),
        ('enrichment_job', 'SELECT'), ('enrichment_job', 'INSERT'), ('enrichment_job', 'UPDATE'),
        ('enrichment_job', 'DELETE'),
        ('backfill_run', 'SELECT'), ('backfill_run', 'INSERT'), ('backfill_run', 'UPDATE'),
        ('backfill_checkpoint', 'SELECT'), ('backfill_checkpoint', 'INSERT'),
        ('backfill_checkpoint', 'UPDATE'), ('backfill_checkpoint', 'DELETE'),
        ('beproduct_api_token', 'SELECT'), ('beproduct_api_token', 'INSERT'),
        ('beproduct_api_token', 'UPDATE'),
        ('schema_migrations', 'SELECT'),
        ('worker_process', 'SELECT'), ('worker_process', 'INSERT'),
        ('worker_process', 'UPDATE'), ('worker_process', 'DELETE'),
        -- 20261201000080 (reverse sync)
        ('timeline_change_request', 'SELECT'), ('timeline_change_request', 'INSERT'),
        ('timeline_change_request', 'UPDATE')
)
SELECT current_user::text AS role, 'USAGE on schema ops' AS missing
FROM pg_namespace
WHERE nspname = 'ops' AND NOT has_schema_privilege(oid, 'USAGE')
UNION ALL
SELECT current_user::text, format('%s on ops.%s', n.privilege, c.relname)
FROM needed AS n
JOIN pg_class AS c ON c.relname = n.relname AND c.relkind IN ('r', 'p')
    AND c.relnamespace = 'ops'::regnamespace
WHERE NOT has_table_privilege(c.oid, n.privilege)
UNION ALL
SELECT current_user::text, format('USAGE on sequence ops.%s', c.relname)
FROM pg_class AS c
WHERE c.relkind = 'S' AND c.relnamespace = 'ops'::regnamespace
    AND c.relname IN ('beproduct_sync_log_id_seq', 'import_errors_id_seq',
                      'timeline_change_request_id_seq')
    AND NOT has_sequence_privilege(c.oid, 'USAGE')
