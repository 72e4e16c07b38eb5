-- One plan with its progress and health.
SELECT p.id, p.name, p.description, p.folder_name, p.start_date, p.end_date, p.active,
       p.styles, p.materials, ops_api.plan_progress(p.id) AS progress
FROM ops_api.plans p
WHERE p.id = %(plan)s
