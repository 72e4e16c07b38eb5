-- The plan an event belongs to. DO NOTHING takes no row lock, so events of one plan applied
-- concurrently do not queue behind each other; name, dates and folder moves come from the API.
INSERT INTO ops.tracking_plan (id, folder_id)
VALUES (%(id)s, %(folder_id)s)
ON CONFLICT (id) DO NOTHING
