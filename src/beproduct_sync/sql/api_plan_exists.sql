SELECT EXISTS (SELECT 1 FROM ops.tracking_plan WHERE id = %(plan)s)
