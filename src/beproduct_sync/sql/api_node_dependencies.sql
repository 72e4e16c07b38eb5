SELECT * FROM ops_api.node_dependencies(%(node)s)
