-- A worker process is alive: record (or renew) its heartbeat.
INSERT INTO ops.worker_process AS w (id, host, pid)
VALUES (%(process)s, %(host)s, %(pid)s)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
