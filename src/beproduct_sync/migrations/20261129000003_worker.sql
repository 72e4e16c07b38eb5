-- Workers claim the oldest waiting events first (ORDER BY id ... FOR UPDATE SKIP LOCKED).
-- The todo index of the core schema is ordered by next_attempt_at, so a claim against a large
-- backlog had to sort every due row to find the lowest ids; this partial index on id lets the
-- claim walk the queue in id order and stop after one batch. It holds only unfinished rows, so
-- it stays small however long the audit trail grows.
CREATE INDEX IF NOT EXISTS beproduct_sync_log_queue_idx
    ON ops.beproduct_sync_log (id)
    WHERE status IN ('pending', 'processing', 'failed');
