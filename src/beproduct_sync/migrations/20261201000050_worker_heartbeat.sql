-- Fast takeover of a crashed worker's events. Every worker process has a row here and renews
-- heartbeat_at about once a second; its workers' names (ops.beproduct_sync_log.locked_by) start
-- with the process id and a '/'. A claim held by a process whose heartbeat is older than
-- BEPRODUCT_SYNC_WORKER_DEAD_AFTER_SECONDS is taken over at once, lease or not (the lease
-- remains the rule for workers that keep no heartbeat). apply_started_at marks the events a
-- worker has begun applying (committed before the apply's own transaction): an event taken over
-- from a dead worker that never began applying it is not charged a claim, so only the events in
-- flight when a worker died count towards being dead-lettered, never the rest of its batch.
CREATE TABLE IF NOT EXISTS ops.worker_process (
    id           text PRIMARY KEY,           -- host:pid:nonce, the prefix of its workers' names
    host         text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.worker_process IS
    'Live worker processes and their heartbeats (beproduct-sync); rows of stopped ones are'
    ' deleted, rows of crashed ones age out.';

ALTER TABLE ops.beproduct_sync_log ADD COLUMN IF NOT EXISTS apply_started_at timestamptz;

-- Service-only, like the inbox: RLS on, no access for API roles (see 20261201000010).
ALTER TABLE ops.worker_process ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.worker_process FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        REVOKE ALL ON ops.worker_process FROM beproduct_sync_service;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ops.worker_process TO beproduct_sync_service;
        IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ops'
                       AND tablename = 'worker_process'
                       AND policyname = 'beproduct_sync_service_all') THEN
            CREATE POLICY beproduct_sync_service_all ON ops.worker_process
                AS PERMISSIVE FOR ALL TO beproduct_sync_service USING (true) WITH CHECK (true);
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON ops.worker_process FROM anon;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON ops.worker_process FROM authenticated;
    END IF;
END
$$;
