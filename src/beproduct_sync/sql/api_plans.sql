-- Plans, newest start first, optionally filtered by a name/description search and activity,
-- with the total for paging (window count).
SELECT p.*, count(*) OVER () AS total
FROM ops_api.plans p
WHERE (%(q)s::text IS NULL
       OR p.name ILIKE '%%' || %(q)s || '%%' OR p.description ILIKE '%%' || %(q)s || '%%')
  AND (%(active)s::boolean IS NULL OR p.active = %(active)s)
ORDER BY p.start_date DESC NULLS LAST, p.name, p.id
LIMIT %(limit)s OFFSET %(offset)s
