SELECT id::text FROM ops.tracking_plan ORDER BY id
