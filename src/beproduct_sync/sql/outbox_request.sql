-- Record a reverse-sync change request through the one function every way in uses.
SELECT ops_api.request_timeline_change(
    milestone_id => %(milestone_id)s::uuid,
    idempotency_key => %(key)s,
    change => %(change)s::jsonb,
    base => %(base)s::jsonb,
    force => %(force)s,
    requested_by => %(by)s
)
