SELECT id::text AS id FROM ops.tracking_plan ORDER BY id
