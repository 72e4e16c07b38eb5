SELECT * FROM ops_api.plan_timeline(
    %(plan)s, %(status)s, %(late_only)s, %(page)s, %(page_size)s, %(entity_type)s)
