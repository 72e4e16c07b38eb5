SELECT ops_api.plan_progress(%(plan)s, %(entity_type)s)
