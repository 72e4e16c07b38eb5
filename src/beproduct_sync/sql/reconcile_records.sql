SELECT id::text AS id, active, style_number FROM {record_table} WHERE plan_id = %(plan_id)s
