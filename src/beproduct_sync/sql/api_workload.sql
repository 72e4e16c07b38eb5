SELECT * FROM ops_api.user_workload(%(user)s, %(from)s, %(to)s)
