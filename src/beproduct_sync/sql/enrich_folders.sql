-- Every folder of a Tracking/Folders response. The list is the API's whole truth at fetch
-- time, so folders we store that it does not list are marked as looked up too (their details
-- stay as they are): otherwise every event of such a folder would ask for the list again.
WITH x AS (
    SELECT *
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
        id uuid, name text, brand text, active boolean, raw_payload jsonb)
),
up AS (
    INSERT INTO ops.tracking_folder AS t (id, name, brand, active, raw_payload, enriched_at)
    SELECT x.id, x.name, x.brand, coalesce(x.active, true), x.raw_payload, %(enriched_at)s
    FROM x
    ON CONFLICT (id) DO UPDATE SET
        name = coalesce(excluded.name, t.name),
        brand = coalesce(excluded.brand, t.brand),
        active = coalesce((SELECT x.active FROM x WHERE x.id = t.id), t.active),
        raw_payload = excluded.raw_payload,
        enriched_at = greatest(t.enriched_at, excluded.enriched_at),
        updated_at = now()
    RETURNING t.id
)
UPDATE ops.tracking_folder AS f
SET enriched_at = %(enriched_at)s, updated_at = now()
WHERE NOT EXISTS (SELECT 1 FROM x WHERE x.id = f.id)
  AND (f.enriched_at IS NULL OR f.enriched_at < %(enriched_at)s)
