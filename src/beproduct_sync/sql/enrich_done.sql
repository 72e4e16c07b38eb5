-- A job that succeeded leaves no row: a job row exists only while work is outstanding.
DELETE FROM ops.enrichment_job WHERE kind = %(kind)s AND entity_id = %(entity_id)s
