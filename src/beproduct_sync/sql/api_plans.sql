-- Plans, newest start first, optionally filtered by a name/description search and activity;
-- with their style and material counts and the total for paging (window count).
SELECT
    p.id, p.name, p.description, p.start_date, p.end_date, p.active,
    p.folder_id, f.name AS folder_name,
    (SELECT count(*) FROM ops.tracking_plan_style s
      WHERE s.plan_id = p.id AND s.active) AS styles,
    (SELECT count(*) FROM ops.tracking_plan_material s
      WHERE s.plan_id = p.id AND s.active) AS materials,
    count(*) OVER () AS total
FROM ops.tracking_plan p
LEFT JOIN ops.tracking_folder f ON f.id = p.folder_id
WHERE (%(q)s::text IS NULL
       OR p.name ILIKE '%%' || %(q)s || '%%' OR p.description ILIKE '%%' || %(q)s || '%%')
  AND (%(active)s::boolean IS NULL OR p.active = %(active)s)
ORDER BY p.start_date DESC NULLS LAST, p.name, p.id
LIMIT %(limit)s OFFSET %(offset)s
