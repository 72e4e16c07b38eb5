-- A plan first stored without its folder (e.g. by the API before any event) learns it here.
UPDATE ops.tracking_plan
SET folder_id = %(folder_id)s, updated_at = now()
WHERE id = %(id)s AND folder_id IS NULL AND %(folder_id)s::uuid IS NOT NULL
