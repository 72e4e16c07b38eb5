-- A pass saw every row of this plan and kind modified before its snapshot: later passes need
-- only rows modified since. Never moves back (an older, slower pass may finish last).
INSERT INTO ops.backfill_plan_sync AS s (plan_id, kind, synced_through)
VALUES (%(plan_id)s, %(kind)s, %(synced_through)s)
ON CONFLICT (plan_id, kind) DO UPDATE SET
    synced_through = greatest(s.synced_through, excluded.synced_through),
    updated_at = now()
