-- A plan's details from Tracking/Plan/{id}. Only the API carries them (webhooks carry ids), so
-- they are overwritten; a field the response lacks keeps what is stored.
INSERT INTO ops.tracking_plan AS t (
    id, folder_id, name, description, start_date, end_date, active, raw_payload, enriched_at)
VALUES (
    %(id)s, %(folder_id)s, %(name)s, %(description)s, %(start_date)s, %(end_date)s,
    coalesce(%(active)s, true), %(raw_payload)s, %(enriched_at)s)
ON CONFLICT (id) DO UPDATE SET
    folder_id = coalesce(excluded.folder_id, t.folder_id),
    name = coalesce(excluded.name, t.name),
    description = coalesce(excluded.description, t.description),
    start_date = coalesce(excluded.start_date, t.start_date),
    end_date = coalesce(excluded.end_date, t.end_date),
    active = coalesce(%(active)s, t.active),
    raw_payload = excluded.raw_payload,
    enriched_at = greatest(t.enriched_at, excluded.enriched_at),
    updated_at = now()
