-- The API no longer knows the plan (404): remember that it was looked up, so that events of
-- the plan do not ask again before the TTL runs out; its stored details stay as they are.
UPDATE ops.tracking_plan
SET enriched_at = %(enriched_at)s, updated_at = now()
WHERE id = %(id)s AND (enriched_at IS NULL OR enriched_at < %(enriched_at)s)
