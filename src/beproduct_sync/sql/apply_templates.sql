-- Milestone definitions carried by an OnChange's timeLineSchema; newer versions win. The
-- schedule rule (days … default_status) is a group of its own (rule_version): written when the
-- event carried one and is newer; rule_updated_at marks a rule that changed in this
-- transaction, for apply_schedule_rules.sql.
INSERT INTO ops.tracking_timeline_template_item AS t
    (id, plan_id, master_folder, name, short_name, department, page_name, raw_payload,
     source_version, days, direction, act_desc, calendar, calendar_days, revised_days, group_task,
     share_when, default_status, rule_version, rule_updated_at)
SELECT x.id, x.plan_id, x.master_folder, x.name, x.short_name, x.department, x.page_name,
       x.raw_payload, x.source_version, x.days, x.direction, x.act_desc, x.calendar,
       x.calendar_days, x.revised_days, x.group_task, x.share_when, x.default_status,
       x.rule_version, CASE WHEN x.rule_version IS NOT NULL THEN now() END
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
    id uuid, plan_id uuid, master_folder text, name text, short_name text, department text,
    page_name text, raw_payload jsonb, source_version numeric, days integer, direction text,
    act_desc uuid, calendar text, calendar_days integer, revised_days integer, group_task text,
    share_when text, default_status text, rule_version numeric)
ON CONFLICT (id) DO UPDATE SET
    plan_id = coalesce(excluded.plan_id, t.plan_id),
    master_folder = coalesce(excluded.master_folder, t.master_folder),
    name = excluded.name,
    short_name = excluded.short_name,
    department = excluded.department,
    page_name = excluded.page_name,
    raw_payload = excluded.raw_payload,
    source_version = excluded.source_version,
    days = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                THEN excluded.days ELSE t.days END,
    direction = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                  THEN excluded.direction ELSE t.direction END,
    act_desc = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                    THEN excluded.act_desc ELSE t.act_desc END,
    calendar = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                    THEN excluded.calendar ELSE t.calendar END,
    calendar_days = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                         THEN excluded.calendar_days ELSE t.calendar_days END,
    revised_days = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                        THEN excluded.revised_days ELSE t.revised_days END,
    group_task = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                      THEN excluded.group_task ELSE t.group_task END,
    share_when = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                      THEN excluded.share_when ELSE t.share_when END,
    default_status = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                          THEN excluded.default_status ELSE t.default_status END,
    rule_updated_at = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                            AND (excluded.days, excluded.direction, excluded.act_desc,
                                 excluded.calendar)
                                IS DISTINCT FROM (t.days, t.direction, t.act_desc, t.calendar)
                           THEN now() ELSE t.rule_updated_at END,
    rule_version = CASE WHEN excluded.rule_version > coalesce(t.rule_version, -1)
                        THEN excluded.rule_version ELSE t.rule_version END,
    updated_at = now()
WHERE excluded.source_version > coalesce(t.source_version, -1)
RETURNING t.id::text AS id
