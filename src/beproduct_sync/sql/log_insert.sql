-- Record a received body. A body already seen (same canonical hash) is a duplicate delivery:
-- count it and return the original row, which is not applied again. raw_body is set only when
-- payload had to be altered to fit jsonb (see model.body.sanitise).
INSERT INTO ops.beproduct_sync_log AS t
    (body_sha256, action, entity_type, entity_id, style_number, source_at, payload, raw_body)
VALUES (%(sha)s, %(action)s, 'tracking', %(entity_id)s, %(style_number)s, %(source_at)s,
        %(payload)s, %(raw_body)s)
ON CONFLICT (body_sha256) DO UPDATE SET
    deliveries = t.deliveries + 1,
    last_delivery_at = clock_timestamp()
RETURNING id, (xmax = 0) AS inserted, status
