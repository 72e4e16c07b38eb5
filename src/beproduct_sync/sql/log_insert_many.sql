-- Record received bodies, many in one statement (the receiver's group commit; see
-- inbox.log.record_many). Each payload arrives as the canonical JSON text the digest was taken
-- of, embedded in the rows document, so it is serialised once. A body already seen (same
-- canonical hash) is a duplicate delivery: count it and return the original row. No digest
-- may repeat within one call (ON CONFLICT cannot touch a row twice in one statement). A body
-- that is JSON null comes out of jsonb_to_recordset as SQL NULL: stored as JSON null.
INSERT INTO ops.beproduct_sync_log AS t
    (body_sha256, action, entity_type, entity_id, style_number, source_at, payload, raw_body)
SELECT decode(x.sha, 'hex'), x.action, 'tracking', x.entity_id, x.style_number, x.source_at,
       coalesce(x.payload, 'null'::jsonb), decode(x.raw_body, 'hex')
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
    sha text, action text, entity_id text, style_number text, source_at timestamptz,
    payload jsonb, raw_body text)
ON CONFLICT (body_sha256) DO UPDATE SET
    deliveries = t.deliveries + 1,
    last_delivery_at = clock_timestamp()
RETURNING id, (xmax = 0) AS inserted, status, encode(body_sha256, 'hex') AS sha
