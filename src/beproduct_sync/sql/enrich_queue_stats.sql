-- Enrichment jobs outstanding, by status (the table holds only outstanding work: it is small).
SELECT status, count(*) FROM ops.enrichment_job GROUP BY status
