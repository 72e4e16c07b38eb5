-- A worker process stopped cleanly (its workers handed their claims back): forget it, and the
-- rows of processes whose heartbeat stopped long ago (they crashed and nothing claims from
-- them any more).
DELETE FROM ops.worker_process
WHERE id = %(process)s OR heartbeat_at < now() - interval '1 day'
