-- The records of one plan with the versions reconcile weighs against the API snapshot.
SELECT id::text AS id, active, style_number, header_version::text AS header_version,
       lifecycle_version::text AS lifecycle_version
FROM {record_table} WHERE plan_id = %(plan_id)s
