SELECT ops_api.plan_timeline_count(%(plan)s, %(status)s, %(late_only)s, %(entity_type)s)
