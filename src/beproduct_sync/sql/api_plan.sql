SELECT * FROM ops_api.plans WHERE id = %(plan)s
