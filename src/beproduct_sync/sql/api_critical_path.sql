SELECT * FROM ops_api.critical_path(%(entity)s)
