-- Folders referenced by an event: ids only; names come from enrichment.
INSERT INTO ops.tracking_folder (id)
SELECT unnest(%(ids)s::uuid[])
ON CONFLICT (id) DO NOTHING
