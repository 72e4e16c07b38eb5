SELECT status, count(*) FROM ops.beproduct_sync_log GROUP BY status
