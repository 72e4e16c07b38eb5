-- A plan by id (text) or by name (case-insensitive, exact first, else the only one containing it).
SELECT id, name FROM ops_api.plans
WHERE id::text = lower(%(plan)s) OR name ILIKE %(plan)s OR name ILIKE '%%' || %(plan)s || '%%'
ORDER BY (id::text = lower(%(plan)s)) DESC, (name ILIKE %(plan)s) DESC, name
LIMIT 2
