-- Per active style of a plan: its projected end against its target and the plan's end date.
SELECT * FROM ops_api.plan_critical_path(%(plan)s) WHERE entity_type = 'style'
