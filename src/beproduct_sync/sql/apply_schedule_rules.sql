-- After definitions were written: resolve the schedule rules of the plans where a rule changed
-- or a definition appeared in this transaction (now() is the transaction's start), and report
-- the changed rules that cannot be followed. Nothing to do otherwise: two index lookups, and
-- the WHERE keeps ops.resolve_schedule_rules from being called at all (a call plans its whole
-- statement, which cost the apply path more than the lookups).
SELECT ops.resolve_schedule_rules(x.plans, x.changed)
FROM (
    SELECT ARRAY(SELECT DISTINCT t.plan_id FROM ops.tracking_timeline_template_item t
                 WHERE t.id = ANY (%(ids)s::uuid[]) AND t.plan_id IS NOT NULL
                   AND (t.rule_updated_at = now() OR t.created_at = now())) AS plans,
           ARRAY(SELECT t.id FROM ops.tracking_timeline_template_item t
                 WHERE t.id = ANY (%(ids)s::uuid[]) AND t.rule_updated_at = now()) AS changed
) x
WHERE cardinality(x.plans) > 0
