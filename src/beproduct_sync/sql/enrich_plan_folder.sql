-- The folder a fetched plan names must exist before the plan points at it; when it is new (or
-- has no details yet), the folder list is fetched too.
WITH stub AS (
    INSERT INTO ops.tracking_folder (id)
    SELECT %(folder_id)s::uuid
    WHERE %(folder_id)s::uuid IS NOT NULL
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
INSERT INTO ops.enrichment_job (kind, entity_id)
SELECT 'folders', '00000000-0000-0000-0000-000000000000'::uuid
WHERE EXISTS (SELECT 1 FROM stub)
   OR EXISTS (SELECT 1 FROM ops.tracking_folder
              WHERE id = %(folder_id)s::uuid AND enriched_at IS NULL)
ON CONFLICT (kind, entity_id) DO NOTHING
