-- Make sure every referenced milestone definition exists (for the foreign key and so that
-- enrichment knows what to fetch). DO NOTHING: shared rows are never locked here.
INSERT INTO ops.tracking_timeline_template_item (id, plan_id, master_folder)
SELECT x.id, x.plan_id, x.master_folder
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(id uuid, plan_id uuid, master_folder text)
ON CONFLICT (id) DO NOTHING
