-- Where each plan's style and material rows were last seen complete (incremental backfill).
SELECT plan_id::text AS plan_id, kind, synced_through FROM ops.backfill_plan_sync
