SELECT * FROM ops_api.milestone_definitions WHERE plan_id = %(plan)s
ORDER BY entity_type DESC, name, id
