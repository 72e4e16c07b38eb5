-- Backfill runs and their per-plan, per-kind page checkpoints, so an interrupted backfill
-- resumes where it stopped. A checkpoint row is written in the same transaction as the page's
-- rows, so a page is either fully counted or not at all.
CREATE TABLE IF NOT EXISTS ops.backfill_run (
    run_key      text PRIMARY KEY,
    options      jsonb NOT NULL,
    snapshot_at  timestamptz NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

CREATE TABLE IF NOT EXISTS ops.backfill_checkpoint (
    run_key     text NOT NULL REFERENCES ops.backfill_run (run_key) ON DELETE CASCADE,
    plan_id     uuid NOT NULL,
    kind        text NOT NULL,
    next_page   integer NOT NULL DEFAULT 0,
    total       integer,
    rows_done   integer NOT NULL DEFAULT 0,
    done        boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, plan_id, kind),
    CONSTRAINT backfill_checkpoint_kind_check CHECK (kind IN ('style', 'material'))
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT ALL ON ops.backfill_run, ops.backfill_checkpoint TO service_role;
    END IF;
END
$$;
