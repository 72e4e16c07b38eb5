-- Which claimed jobs still need their API call. An event applied while an earlier fetch of the
-- same plan was being saved can queue a job again (its statement saw the data before that save
-- committed); such a job finds the data fresh here and is dropped without calling the API.
-- The tests are those of enrich_schedule, over the whole plan rather than one event.
SELECT j.kind, j.entity_id,
       CASE j.kind
           WHEN 'plan' THEN NOT EXISTS (
               SELECT 1 FROM ops.tracking_plan p
               WHERE p.id = j.entity_id
                 AND p.enriched_at IS NOT NULL
                 AND (%(ttl_seconds)s <= 0
                      OR p.enriched_at >= now() - make_interval(secs => %(ttl_seconds)s))
                 AND NOT EXISTS (
                     SELECT 1 FROM ops.tracking_timeline_template_item t
                     WHERE t.plan_id = p.id AND t.name IS NULL
                       AND t.created_at > p.enriched_at))
           ELSE EXISTS (
               SELECT 1 FROM ops.tracking_folder f
               WHERE f.enriched_at IS NULL
                  OR (%(ttl_seconds)s > 0
                      AND f.enriched_at < now() - make_interval(secs => %(ttl_seconds)s)))
       END AS needed
FROM unnest(%(kinds)s::text[], %(ids)s::uuid[]) AS j(kind, entity_id)
