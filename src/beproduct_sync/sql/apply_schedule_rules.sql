-- After definitions were written: resolve the schedule rules of the plans where a rule changed
-- or a definition appeared in this transaction (now() is the transaction's start), and report
-- the changed rules that cannot be followed. Nothing to do (two index lookups) otherwise: the
-- function is then not called at all, because planning its recursive query costs far more than
-- the lookups (a SQL function's body is planned again at every call), and nearly every batch
-- of webhooks only references definitions that already exist.
SELECT ops.resolve_schedule_rules(s.plans, s.changed)
FROM (
    SELECT ARRAY(SELECT DISTINCT t.plan_id FROM ops.tracking_timeline_template_item t
                 WHERE t.id = ANY (%(ids)s::uuid[]) AND t.plan_id IS NOT NULL
                   AND (t.rule_updated_at = now() OR t.created_at = now())) AS plans,
           ARRAY(SELECT t.id FROM ops.tracking_timeline_template_item t
                 WHERE t.id = ANY (%(ids)s::uuid[]) AND t.rule_updated_at = now()) AS changed
) AS s
WHERE cardinality(s.plans) > 0
