-- Whether any change request is in flight (sent, or being sent) and so waits for its echo: the
-- apply transaction asks this before confirming from events (outbox_confirm_events.sql), which
-- is skipped when none is. An index lookup (timeline_change_request_state_idx).
SELECT EXISTS (
    SELECT 1 FROM ops.timeline_change_request WHERE state IN ('sending', 'sent')
)
