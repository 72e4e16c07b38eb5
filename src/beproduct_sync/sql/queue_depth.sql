-- Events still to be worked on; served by the partial index beproduct_sync_log_todo_idx.
SELECT count(*) FROM ops.beproduct_sync_log WHERE status IN ('pending', 'processing', 'failed')
