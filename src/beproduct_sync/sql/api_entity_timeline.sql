SELECT * FROM ops_api.style_timeline(%(entity)s) WHERE entity_type = %(entity_type)s
