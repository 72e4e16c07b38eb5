SELECT * FROM ops_api.plan_critical_path(%(plan)s)
