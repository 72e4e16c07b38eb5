-- Incremental backfill. For each plan and kind (style, material), the snapshot time of the last
-- backfill pass that saw every one of its rows: the next pass asks only for rows with
-- ModifiedAt at or after it (minus a margin for clock skew between BeProduct and the
-- database). A checkpoint remembers the ModifiedAt bound its walk started with, so a resumed
-- walk pages the same filtered list.
CREATE TABLE IF NOT EXISTS ops.backfill_plan_sync (
    plan_id         uuid NOT NULL,
    kind            text NOT NULL,
    synced_through  timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, kind),
    CONSTRAINT backfill_plan_sync_kind_check CHECK (kind IN ('style', 'material'))
);

ALTER TABLE ops.backfill_checkpoint ADD COLUMN IF NOT EXISTS since timestamptz;

-- Service-only bookkeeping, like ops.backfill_checkpoint (see 20261201000010): RLS on, the
-- service role's grants and policy, nothing for anon or authenticated.
ALTER TABLE ops.backfill_plan_sync ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.backfill_plan_sync FROM PUBLIC;

DO $$
BEGIN
    -- Supabase's service_role first: a rerun then leaves the privilege list in the same order.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT ALL ON ops.backfill_plan_sync TO service_role;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        REVOKE ALL ON ops.backfill_plan_sync FROM beproduct_sync_service;
        GRANT SELECT, INSERT, UPDATE ON ops.backfill_plan_sync TO beproduct_sync_service;
        IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ops'
                       AND tablename = 'backfill_plan_sync'
                       AND policyname = 'beproduct_sync_service_all') THEN
            CREATE POLICY beproduct_sync_service_all ON ops.backfill_plan_sync
                AS PERMISSIVE FOR ALL TO beproduct_sync_service USING (true) WITH CHECK (true);
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON ops.backfill_plan_sync FROM anon;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON ops.backfill_plan_sync FROM authenticated;
    END IF;
END
$$;
