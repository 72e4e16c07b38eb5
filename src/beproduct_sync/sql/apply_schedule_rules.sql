-- After definitions were written: resolve the schedule rules of the plans where a rule changed
-- or a definition appeared in this transaction (now() is the transaction's start), and report
-- the changed rules that cannot be followed. Nothing to do (two index lookups) otherwise.
SELECT ops.resolve_schedule_rules(
    ARRAY(SELECT DISTINCT t.plan_id FROM ops.tracking_timeline_template_item t
          WHERE t.id = ANY (%(ids)s::uuid[]) AND t.plan_id IS NOT NULL
            AND (t.rule_updated_at = now() OR t.created_at = now())),
    ARRAY(SELECT t.id FROM ops.tracking_timeline_template_item t
          WHERE t.id = ANY (%(ids)s::uuid[]) AND t.rule_updated_at = now()))
