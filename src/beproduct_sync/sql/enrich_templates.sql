-- Milestone definitions from a plan's style.timelines[] / material.timelines[].
-- Versioned like webhook definitions (an OnChange's timeLineSchema): the API text wins only
-- when the plan's modifiedAt is newer than the stored version; otherwise it only fills fields
-- that are still empty (e.g. stubs created from an OnCreate, which carries no names). A
-- schedule rule, where the API carries one, follows the same rule by its own rule_version.
INSERT INTO ops.tracking_timeline_template_item AS t (
    id, plan_id, master_folder, name, short_name, department, page_name, raw_payload,
    source_version, enriched_at, days, direction, act_desc, calendar, calendar_days, revised_days,
    group_task, share_when, default_status, rule_version, rule_updated_at)
SELECT x.id, x.plan_id, x.master_folder, x.name, x.short_name, x.department, x.page_name,
       x.raw_payload, x.source_version, %(enriched_at)s, x.days, x.direction, x.act_desc,
       x.calendar, x.calendar_days, x.revised_days, x.group_task, x.share_when,
       x.default_status, x.rule_version, CASE WHEN x.rule_version IS NOT NULL THEN now() END
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
    id uuid, plan_id uuid, master_folder text, name text, short_name text, department text,
    page_name text, raw_payload jsonb, source_version numeric, days integer, direction text,
    act_desc uuid, calendar text, calendar_days integer, revised_days integer, group_task text,
    share_when text, default_status text, rule_version numeric)
ON CONFLICT (id) DO UPDATE SET
    plan_id = coalesce(t.plan_id, excluded.plan_id),
    master_folder = coalesce(t.master_folder, excluded.master_folder),
    name = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.name, t.name) ELSE coalesce(t.name, excluded.name) END,
    short_name = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.short_name, t.short_name)
                ELSE coalesce(t.short_name, excluded.short_name) END,
    department = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.department, t.department)
                ELSE coalesce(t.department, excluded.department) END,
    page_name = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.page_name, t.page_name)
                ELSE coalesce(t.page_name, excluded.page_name) END,
    raw_payload = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                         OR t.raw_payload IS NULL
                THEN excluded.raw_payload ELSE t.raw_payload END,
    source_version = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN excluded.source_version ELSE t.source_version END,
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
    enriched_at = excluded.enriched_at,
    updated_at = now()
