-- Our stored milestones (style and material) for the given ids: the values a request's base is
-- compared with before anything is sent.
SELECT t.id::text AS id, t.status::text AS status, t.rev_date, t.final_date,
       t.source_version::text AS source_version, t.assigned_to, t.shared_with
FROM ops.tracking_plan_style_timeline AS t
WHERE t.id = ANY (%(ids)s::uuid[])
UNION ALL
SELECT t.id::text, t.status::text, t.rev_date, t.final_date, t.source_version::text,
       t.assigned_to, t.shared_with
FROM ops.tracking_plan_material_timeline AS t
WHERE t.id = ANY (%(ids)s::uuid[])
