-- The read model: schedule rules of milestone definitions, and the `ops_api` schema of views
-- and functions that answer "how far along, what is late, who is loaded, what decides the end
-- date". Plain SQL, idempotent (re-running it changes nothing), PostgreSQL 15+.
--
-- Storage is kept to what BeProduct says: the rule of each milestone definition (from an
-- OnChange's `data.timeLineSchema`, or the API where it carries one) as real columns, plus the
-- definition each rule can anchor to (`anchor_id`, resolved when rules or definitions change,
-- with cycles and unknown names reported once in ops.import_errors). Everything derived from
-- dates — predecessors, start dates, durations, lateness, projections — is computed when read,
-- per plan or per style, so it is never stale and costs the webhook apply path nothing.

-- 1. Schedule rules, versioned on their own (`rule_version`): a definition read from the API
-- without a rule never erases one learned from a webhook.
ALTER TABLE ops.tracking_timeline_template_item
    ADD COLUMN IF NOT EXISTS days integer,
    ADD COLUMN IF NOT EXISTS direction text,
    ADD COLUMN IF NOT EXISTS act_desc uuid,
    ADD COLUMN IF NOT EXISTS calendar text,
    ADD COLUMN IF NOT EXISTS calendar_days integer,
    ADD COLUMN IF NOT EXISTS revised_days integer,
    ADD COLUMN IF NOT EXISTS group_task text,
    ADD COLUMN IF NOT EXISTS share_when text,
    ADD COLUMN IF NOT EXISTS default_status text,
    ADD COLUMN IF NOT EXISTS rule_version numeric,
    ADD COLUMN IF NOT EXISTS rule_updated_at timestamptz,
    ADD COLUMN IF NOT EXISTS anchor_id uuid,
    ADD COLUMN IF NOT EXISTS rule_problem text;

COMMENT ON COLUMN ops.tracking_timeline_template_item.act_desc IS
    'timeLineSchema.ActDesc: the definition this one is scheduled from (`days` `direction` it);'
    ' the nil uuid means the start of the style''s schedule';
COMMENT ON COLUMN ops.tracking_timeline_template_item.anchor_id IS
    'act_desc when it names another definition of the same plan and no cycle: the'
    ' predecessor rule the read model uses (NULL: plan start, no rule, or a rule_problem)';
COMMENT ON COLUMN ops.tracking_timeline_template_item.rule_problem IS
    'cycle or unknown: the rule cannot be followed; the read model infers the order instead';

-- Definitions stored before this migration kept their timeLineSchema in raw_payload.
UPDATE ops.tracking_timeline_template_item
SET days = CASE WHEN raw_payload ->> 'Days' ~ '^-?[0-9]{1,9}$'
                THEN (raw_payload ->> 'Days')::integer END,
    direction = raw_payload ->> 'When',
    act_desc = CASE WHEN raw_payload ->> 'ActDesc'
                         ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                    THEN (raw_payload ->> 'ActDesc')::uuid END,
    calendar = raw_payload ->> 'Calendar',
    calendar_days = CASE WHEN raw_payload ->> 'CalendarDays' ~ '^-?[0-9]{1,9}$'
                         THEN (raw_payload ->> 'CalendarDays')::integer END,
    revised_days = CASE WHEN raw_payload ->> 'RevisedDays' ~ '^-?[0-9]{1,9}$'
                        THEN (raw_payload ->> 'RevisedDays')::integer END,
    group_task = raw_payload ->> 'GroupTask',
    share_when = raw_payload ->> 'ShareWhen',
    default_status = raw_payload ->> 'DefaultStatus',
    rule_version = source_version,
    rule_updated_at = now()
WHERE rule_version IS NULL AND jsonb_typeof(raw_payload) = 'object'
  AND (raw_payload ? 'ActDesc' OR raw_payload ? 'Days');

-- Resolve the rules of every definition of `p_plans`: a rule anchors to the definition its
-- ActDesc names when that one is of the same plan and following the names never comes back
-- (a cycle). Rules of `p_changed` that cannot be followed are reported once, as warnings.
CREATE OR REPLACE FUNCTION ops.resolve_schedule_rules(p_plans uuid[], p_changed uuid[])
RETURNS integer
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path = ''
AS $$
WITH RECURSIVE d AS MATERIALIZED (
    SELECT t.id, t.plan_id, t.name,
           CASE WHEN t.act_desc = '00000000-0000-0000-0000-000000000000' THEN NULL
                ELSE t.act_desc END AS target
    FROM ops.tracking_timeline_template_item t
    WHERE t.plan_id = ANY (p_plans)
),
walk (start_id, cur, steps) AS (
    SELECT d.id, d.target, 1 FROM d WHERE d.target IS NOT NULL
    UNION ALL
    SELECT w.start_id, n.target, w.steps + 1
    FROM walk w JOIN d n ON n.id = w.cur
    -- Stop on coming back to the start, at the end of a chain, or after as many steps as
    -- there are definitions (a chain running into a cycle that does not hold the start).
    WHERE w.cur <> w.start_id AND n.target IS NOT NULL
      AND w.steps <= (SELECT count(*) FROM d)
),
resolved AS (
    SELECT d.id, d.plan_id, d.name, d.target,
           CASE WHEN d.target IS NULL THEN NULL
                WHEN NOT EXISTS (SELECT 1 FROM d k WHERE k.id = d.target AND k.plan_id = d.plan_id)
                    THEN 'unknown'
                WHEN EXISTS (SELECT 1 FROM walk w WHERE w.start_id = d.id AND w.cur = d.id)
                    THEN 'cycle'
           END AS problem
    FROM d
),
updated AS (
    UPDATE ops.tracking_timeline_template_item t
    SET anchor_id = CASE WHEN r.problem IS NULL THEN r.target END,
        rule_problem = r.problem
    FROM resolved r
    WHERE t.id = r.id
      AND (t.anchor_id, t.rule_problem) IS DISTINCT FROM
          (CASE WHEN r.problem IS NULL THEN r.target END, r.problem)
    RETURNING t.id
),
warned AS (
    INSERT INTO ops.import_errors (entity_type, entity_id, severity, message)
    SELECT 'timeline_template', r.id::text, 'warning',
           format('milestone definition %s (%s): its schedule rule %s; the order of its'
                  ' plan dates is used instead',
                  coalesce(r.name, 'unnamed'), r.id,
                  CASE r.problem
                      WHEN 'cycle' THEN 'forms a cycle of ActDesc references'
                      ELSE format('names %s, which is no milestone of this plan', r.target)
                  END)
    FROM resolved r
    WHERE r.problem IS NOT NULL AND r.id = ANY (p_changed)
    RETURNING 1
)
SELECT (SELECT count(*) FROM updated)::integer + (SELECT count(*) FROM warned)::integer
$$;

SELECT ops.resolve_schedule_rules(ARRAY(SELECT id FROM ops.tracking_plan), '{}');

-- 2. Read settings: thresholds of the risk level (max days late). One row.
CREATE TABLE IF NOT EXISTS ops.read_settings (
    id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
    risk_medium_from   integer NOT NULL DEFAULT 7,
    risk_high_from     integer NOT NULL DEFAULT 14,
    risk_critical_from integer NOT NULL DEFAULT 30,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT read_settings_order CHECK (
        0 <= risk_medium_from AND risk_medium_from <= risk_high_from
        AND risk_high_from <= risk_critical_from)
);
INSERT INTO ops.read_settings (id) VALUES (true) ON CONFLICT (id) DO NOTHING;
COMMENT ON TABLE ops.read_settings IS
    'Risk level of a plan by its max days late: low below risk_medium_from, medium below'
    ' risk_high_from, high below risk_critical_from, else critical';
ALTER TABLE ops.read_settings ENABLE ROW LEVEL SECURITY;

-- 3. The read schema.
CREATE SCHEMA IF NOT EXISTS ops_api;
COMMENT ON SCHEMA ops_api IS
    'beproduct-sync read model: views and functions over the ops tables (callers'' rights)';

-- "Today" for lateness: the session setting ops_api.today when set (tests, what-if), else
-- the server's current date.
CREATE OR REPLACE FUNCTION ops_api.today() RETURNS date
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = ''
AS $$
    SELECT coalesce(nullif(current_setting('ops_api.today', true), '')::date, current_date)
$$;

-- `d` plus `n` days, or business days (Monday to Friday) when `business`; from a weekend,
-- business days count from the Friday before (forwards) or the Monday after (backwards).
CREATE OR REPLACE FUNCTION ops_api.add_days(d date, n integer, business boolean) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = ''
AS $$
    SELECT CASE
        WHEN d IS NULL OR n IS NULL OR n = 0 THEN d
        WHEN NOT coalesce(business, false) THEN d + n
        WHEN n > 0 THEN (
            SELECT s.b + 7 * (n / 5) + (n % 5) + CASE WHEN s.dow + (n % 5) > 5 THEN 2 ELSE 0 END
            FROM (SELECT d - greatest(extract(isodow FROM d)::integer - 5, 0) AS b,
                         least(extract(isodow FROM d)::integer, 5) AS dow) s)
        ELSE (
            SELECT s.b - 7 * ((-n) / 5) - ((-n) % 5)
                   - CASE WHEN s.dow - ((-n) % 5) < 1 THEN 2 ELSE 0 END
            FROM (SELECT d + CASE WHEN extract(isodow FROM d)::integer > 5
                                  THEN 8 - extract(isodow FROM d)::integer ELSE 0 END AS b,
                         CASE WHEN extract(isodow FROM d)::integer > 5 THEN 1
                              ELSE extract(isodow FROM d)::integer END AS dow) s)
    END
$$;

-- Plans with their folder and active style / material counts.
CREATE OR REPLACE VIEW ops_api.plans WITH (security_invoker = true) AS
SELECT p.id, p.name, p.description, p.start_date, p.end_date, p.active, p.folder_id,
       f.name AS folder_name, f.brand,
       (SELECT count(*) FROM ops.tracking_plan_style s
         WHERE s.plan_id = p.id AND s.active) AS styles,
       (SELECT count(*) FROM ops.tracking_plan_material s
         WHERE s.plan_id = p.id AND s.active) AS materials,
       p.enriched_at, p.updated_at
FROM ops.tracking_plan p
LEFT JOIN ops.tracking_folder f ON f.id = p.folder_id;

-- Milestone definitions with their schedule rules.
CREATE OR REPLACE VIEW ops_api.milestone_definitions WITH (security_invoker = true) AS
SELECT t.id, t.plan_id, lower(t.master_folder) AS entity_type, t.name, t.short_name,
       t.department, t.page_name, t.days, t.direction, t.act_desc, t.calendar,
       coalesce(t.calendar ILIKE '%business%', false) AS business_days, t.calendar_days,
       t.revised_days, t.group_task, t.share_when, t.default_status,
       t.rule_version IS NOT NULL AS rule_known, t.anchor_id, t.rule_problem
FROM ops.tracking_timeline_template_item t;

-- One readable row per milestone, style and material alike, with live lateness. Completed
-- (approved, approved with corrections, complete, NA) is never late; open is late once its
-- target date (rev, else due) is before today; days_late counts from the target,
-- days_late_to_plan is the baseline drift (due after plan).
CREATE OR REPLACE VIEW ops_api.milestone_state WITH (security_invoker = true) AS
WITH today AS (SELECT ops_api.today() AS d)
SELECT x.entity_type, x.id, x.entity_id, x.plan_id, p.name AS plan_name, p.folder_id,
       f.name AS folder_name, x.template_item_id, ti.name AS milestone_name,
       ti.short_name, ti.department, ti.page_name, x.style_number, x.style_name,
       x.color_name, x.supplier_name, x.entity_active,
       lower(x.status::text) AS status, x.status_label,
       x.plan_date, x.due_date, x.rev_date, x.final_date,
       coalesce(x.rev_date, x.due_date) AS target_date,
       x.assigned_to, x.shared_with,
       x.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA') AS is_completed,
       coalesce(x.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA'), true)
           AND coalesce(x.rev_date, x.due_date) < today.d AS is_late_now,
       CASE WHEN coalesce(x.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE',
                                           'NA'), true)
                 AND coalesce(x.rev_date, x.due_date) < today.d
            THEN today.d - coalesce(x.rev_date, x.due_date) ELSE 0 END AS days_late,
       greatest(coalesce(x.due_date - x.plan_date, 0), 0) AS days_late_to_plan,
       coalesce(x.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA')
                AND x.final_date > coalesce(x.rev_date, x.due_date), false) AS completed_late
FROM (
    SELECT 'style'::text AS entity_type, m.id, m.plan_style_id AS entity_id, s.plan_id,
           m.template_item_id, m.status, m.status_label, m.plan_date, m.due_date, m.rev_date,
           m.final_date, m.assigned_to, m.shared_with, s.active AS entity_active,
           s.style_number, s.style_name, s.color_name, s.supplier_name
    FROM ops.tracking_plan_style_timeline m
    JOIN ops.tracking_plan_style s ON s.id = m.plan_style_id
    UNION ALL
    SELECT 'material'::text, m.id, m.plan_material_id, s.plan_id,
           m.template_item_id, m.status, m.status_label, m.plan_date, m.due_date, m.rev_date,
           m.final_date, m.assigned_to, m.shared_with, s.active,
           s.style_number, s.style_name, s.color_name, s.supplier_name
    FROM ops.tracking_plan_material_timeline m
    JOIN ops.tracking_plan_material s ON s.id = m.plan_material_id
) x
CROSS JOIN today
JOIN ops.tracking_plan p ON p.id = x.plan_id
LEFT JOIN ops.tracking_folder f ON f.id = p.folder_id
LEFT JOIN ops.tracking_timeline_template_item ti ON ti.id = x.template_item_id;

-- The full row of a milestone: its state, its place in the schedule and its projection.
DO $$
BEGIN
    IF to_regtype('ops_api.milestone_row') IS NULL THEN
        CREATE TYPE ops_api.milestone_row AS (
            entity_type text, id uuid, entity_id uuid, plan_id uuid, plan_name text,
            folder_id uuid, folder_name text, template_item_id uuid, milestone_name text,
            short_name text, department text, page_name text, style_number text,
            style_name text, color_name text, supplier_name text, entity_active boolean,
            status text, status_label text, plan_date date, due_date date, rev_date date,
            final_date date, target_date date, assigned_to jsonb, shared_with jsonb,
            is_completed boolean, is_late_now boolean, days_late integer,
            days_late_to_plan integer, completed_late boolean,
            predecessor_id uuid, dependency_source text, duration_days integer,
            start_date_plan date, start_date_due date, business_days boolean,
            projected_start date, projected_end date, slack_days integer,
            on_critical_path boolean, is_final boolean, depth integer
        );
    END IF;
END
$$;

-- Every milestone of a plan (active styles and materials), or of one style / material row
-- (`p_entity`, active or not), with:
--   * predecessor_id / dependency_source: `schema` when the definition's rule anchors it to
--     another milestone of the row (predecessor set) or to the start of the row's schedule
--     (no predecessor); `inferred` from the order of plan dates (the latest milestone planned
--     strictly before) when no rule is known, the rule cannot be followed, or the anchor is
--     planned after it (rules never make a loop: every accepted link goes to an earlier or
--     equal date, inferred ones strictly earlier); `none` when nothing is planned before it;
--   * duration_days (calendar days: a rule's business days converted), start_date_plan
--     (the predecessor's plan date; the schedule's start for a rule anchored to the start;
--     its own plan date when it has none) and start_date_due (due minus the duration when
--     positive, else the predecessor's due date, else its own due date);
--   * the projection: completed milestones end at their final (else target) date; open ones
--     at the latest of their target, today, and their predecessor's projected end plus their
--     duration, so a late predecessor pushes its successors; projected_start = end - duration;
--   * slack_days (how far an open milestone may slip before it moves its row's last projected
--     end), on_critical_path (the chain that decides that end, from the milestone whose own
--     date drives it) and is_final (the row's last projected milestone).
CREATE OR REPLACE FUNCTION ops_api.plan_milestones(p_plan uuid, p_entity uuid DEFAULT NULL)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
-- The schedule is computed on narrow rows (ids, dates, rule); the readable columns are joined
-- once at the end.
WITH RECURSIVE base AS MATERIALIZED (
    SELECT x.entity_type, x.id, x.entity_id, x.template_item_id, x.plan_date, x.due_date,
           coalesce(x.rev_date, x.due_date) AS target_date, x.final_date,
           coalesce(x.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA'),
                    false) AS done,
           coalesce(x.plan_date, 'infinity'::date) AS k,
           t.anchor_id, greatest(t.days, 0) AS rule_days,
           coalesce(t.calendar ILIKE '%business%', false) AS business,
           coalesce(t.rule_version IS NOT NULL AND t.rule_problem IS NULL
                    AND t.anchor_id IS NULL, false) AS starts_schedule
    FROM (
        SELECT 'style'::text AS entity_type, m.id, m.plan_style_id AS entity_id,
               m.template_item_id, m.status, m.plan_date, m.due_date, m.rev_date, m.final_date
        FROM ops.tracking_plan_style s
        JOIN ops.tracking_plan_style_timeline m ON m.plan_style_id = s.id
        WHERE s.plan_id = p_plan
          AND CASE WHEN p_entity IS NULL THEN s.active ELSE s.id = p_entity END
        UNION ALL
        SELECT 'material'::text, m.id, m.plan_material_id, m.template_item_id, m.status,
               m.plan_date, m.due_date, m.rev_date, m.final_date
        FROM ops.tracking_plan_material s
        JOIN ops.tracking_plan_material_timeline m ON m.plan_material_id = s.id
        WHERE s.plan_id = p_plan
          AND CASE WHEN p_entity IS NULL THEN s.active ELSE s.id = p_entity END
    ) x
    LEFT JOIN ops.tracking_timeline_template_item t ON t.id = x.template_item_id
),
inferred AS (
    SELECT b.id,
           CASE WHEN b.plan_date IS NULL
                THEN max(to_char(b.plan_date, 'YYYYMMDD') || b.id::text)
                         FILTER (WHERE b.plan_date IS NOT NULL)
                         OVER (PARTITION BY b.entity_type, b.entity_id)
                ELSE max(to_char(b.plan_date, 'YYYYMMDD') || b.id::text)
                         OVER (PARTITION BY b.entity_type, b.entity_id ORDER BY b.plan_date
                               RANGE BETWEEN UNBOUNDED PRECEDING AND '1 day' PRECEDING)
           END AS before_key
    FROM base b
),
anchored AS (
    SELECT DISTINCT ON (b.id) b.id, a.id AS anchor_instance
    FROM base b JOIN base a
      ON a.entity_id = b.entity_id AND a.template_item_id = b.anchor_id
     AND a.entity_type = b.entity_type AND a.k <= b.k AND a.id <> b.id
    ORDER BY b.id, a.id
),
node AS MATERIALIZED (
    SELECT b.entity_type, b.id, b.entity_id, b.plan_date, b.due_date, b.target_date, b.done,
           c.pred, c.by_rule,
           CASE WHEN c.by_rule THEN 'schema'
                WHEN c.pred IS NOT NULL THEN 'inferred' ELSE 'none' END AS source,
           b.business, b.rule_days, p.due_date AS pred_due,
           st.start_plan,
           greatest(CASE WHEN c.by_rule AND b.business AND st.start_plan IS NOT NULL
                         THEN ops_api.add_days(st.start_plan, b.rule_days, true) - st.start_plan
                         WHEN c.by_rule THEN coalesce(b.rule_days, 0)
                         WHEN c.pred IS NOT NULL THEN b.plan_date - st.start_plan
                         ELSE 0 END, 0) AS duration,
           CASE WHEN b.done THEN coalesce(b.final_date, b.target_date, b.plan_date)
                ELSE greatest(coalesce(b.target_date, b.plan_date), today.d) END AS own_end
    FROM base b
    CROSS JOIN (SELECT ops_api.today() AS d) today
    JOIN inferred i ON i.id = b.id
    LEFT JOIN anchored an ON an.id = b.id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN an.anchor_instance IS NOT NULL THEN an.anchor_instance
                    WHEN b.starts_schedule THEN NULL
                    ELSE substr(i.before_key, 9)::uuid END AS pred,
               an.anchor_instance IS NOT NULL OR b.starts_schedule AS by_rule
    ) c
    LEFT JOIN base p ON p.id = c.pred
    CROSS JOIN LATERAL (
        SELECT CASE WHEN p.id IS NOT NULL THEN p.plan_date
                    WHEN c.by_rule AND b.business
                        THEN ops_api.add_days(b.plan_date, -b.rule_days, true)
                    WHEN c.by_rule THEN b.plan_date - coalesce(b.rule_days, 0)
                    ELSE b.plan_date END AS start_plan
    ) st
),
walk (id, entity_type, entity_id, path, cum, proj, driver, depth) AS (
    SELECT n.id, n.entity_type, n.entity_id, ARRAY[n.id], 0, n.own_end, n.id, 1
    FROM node n WHERE n.pred IS NULL
    UNION ALL
    SELECT n.id, n.entity_type, n.entity_id, w.path || n.id, w.cum + n.duration,
           CASE WHEN n.done THEN n.own_end ELSE greatest(n.own_end, w.proj + n.duration) END,
           CASE WHEN NOT n.done AND w.proj + n.duration >= coalesce(n.own_end, w.proj)
                THEN w.driver ELSE n.id END,
           w.depth + 1
    FROM walk w JOIN node n ON n.pred = w.id
    WHERE w.depth < 10000  -- never reached: links only go to earlier dates (see above)
),
w AS MATERIALIZED (SELECT * FROM walk),
final AS MATERIALIZED (
    SELECT DISTINCT ON (w.entity_type, w.entity_id)
           w.entity_type, w.entity_id, w.id, w.proj AS row_end,
           w.path[array_position(w.path, w.driver):] AS chain
    FROM w
    ORDER BY w.entity_type, w.entity_id, w.proj DESC NULLS LAST, w.depth DESC, w.id
),
reach AS (
    SELECT a.node AS id, max(w.cum) AS reach
    FROM w, unnest(w.path) AS a(node)
    GROUP BY a.node
)
SELECT ms.entity_type, ms.id, ms.entity_id, ms.plan_id, ms.plan_name, ms.folder_id,
       ms.folder_name, ms.template_item_id, ms.milestone_name, ms.short_name, ms.department,
       ms.page_name, ms.style_number, ms.style_name, ms.color_name, ms.supplier_name,
       ms.entity_active, ms.status, ms.status_label, ms.plan_date, ms.due_date, ms.rev_date,
       ms.final_date, ms.target_date, ms.assigned_to, ms.shared_with, ms.is_completed,
       ms.is_late_now, ms.days_late, ms.days_late_to_plan, ms.completed_late,
       n.pred, n.source, n.duration, n.start_plan,
       CASE WHEN n.by_rule AND n.business AND n.duration > 0
                THEN ops_api.add_days(n.due_date, -n.rule_days, true)
            WHEN n.duration > 0 THEN n.due_date - n.duration
            WHEN n.pred IS NOT NULL THEN n.pred_due
            ELSE n.due_date END,
       n.business,
       w.proj - n.duration, w.proj,
       CASE WHEN NOT n.done THEN greatest(f.row_end - (r.reach - w.cum) - w.proj, 0) END,
       n.id = ANY (f.chain),
       n.id = f.id,
       w.depth
FROM node n
JOIN w ON w.id = n.id
JOIN reach r ON r.id = n.id
JOIN final f ON f.entity_type = n.entity_type AND f.entity_id = n.entity_id
JOIN ops_api.milestone_state ms ON ms.id = n.id
WHERE ms.plan_id = p_plan AND (p_entity IS NULL OR ms.entity_id = p_entity)
$$;

-- One style's (or material's) milestones in schedule order.
CREATE OR REPLACE FUNCTION ops_api.style_timeline(p_plan_style uuid)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    SELECT m.*
    FROM (SELECT plan_id FROM ops.tracking_plan_style WHERE id = p_plan_style
          UNION ALL
          SELECT plan_id FROM ops.tracking_plan_material WHERE id = p_plan_style) e
    CROSS JOIN LATERAL ops_api.plan_milestones(e.plan_id, p_plan_style) m
    ORDER BY m.plan_date NULLS LAST, m.depth, m.milestone_name, m.id
$$;

-- The chain of milestones that decides a style's (or material's) last projected end, in order.
CREATE OR REPLACE FUNCTION ops_api.critical_path(p_plan_style uuid)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    SELECT m.* FROM ops_api.style_timeline(p_plan_style) m
    WHERE m.on_critical_path
    ORDER BY m.depth
$$;

-- Per active style / material of a plan: its last projected milestone, that end against its
-- target and the plan's end date; latest projected ends first.
CREATE OR REPLACE FUNCTION ops_api.plan_critical_path(p_plan uuid)
RETURNS TABLE (
    entity_type text, entity_id uuid, style_number text, style_name text, color_name text,
    final_milestone_id uuid, final_milestone_name text, target_end date, projected_end date,
    days_slipped integer, plan_end_date date, days_past_plan_end integer,
    critical_path_length integer, late_milestones integer
)
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    WITH m AS MATERIALIZED (SELECT * FROM ops_api.plan_milestones(p_plan)),
    counts AS (
        SELECT entity_id, count(*) FILTER (WHERE on_critical_path)::integer AS chain,
               count(*) FILTER (WHERE is_late_now)::integer AS late
        FROM m GROUP BY entity_id
    )
    SELECT f.entity_type, f.entity_id, f.style_number, f.style_name, f.color_name,
           f.id, f.milestone_name, f.target_date, f.projected_end,
           greatest(coalesce(f.projected_end - f.target_date, 0), 0),
           p.end_date, greatest(coalesce(f.projected_end - p.end_date, 0), 0),
           c.chain, c.late
    FROM m f
    JOIN counts c ON c.entity_id = f.entity_id
    JOIN ops.tracking_plan p ON p.id = f.plan_id
    WHERE f.is_final
    ORDER BY f.projected_end DESC NULLS LAST, f.style_number, f.entity_id
$$;

-- A plan's milestones, filtered and paged (plan_timeline_count gives the total).
CREATE OR REPLACE FUNCTION ops_api.plan_timeline(
    p_plan uuid, p_status text DEFAULT NULL, p_late_only boolean DEFAULT false,
    p_page integer DEFAULT 1, p_page_size integer DEFAULT 100,
    p_entity_type text DEFAULT NULL)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    SELECT m.* FROM ops_api.plan_milestones(p_plan) m
    WHERE (p_status IS NULL OR m.status = p_status)
      AND (NOT coalesce(p_late_only, false) OR m.is_late_now)
      AND (p_entity_type IS NULL OR m.entity_type = p_entity_type)
    ORDER BY m.entity_type DESC, m.style_number, m.entity_id, m.plan_date NULLS LAST,
             m.depth, m.milestone_name, m.id
    LIMIT greatest(p_page_size, 0) OFFSET greatest(p_page - 1, 0) * greatest(p_page_size, 0)
$$;

CREATE OR REPLACE FUNCTION ops_api.plan_timeline_count(
    p_plan uuid, p_status text DEFAULT NULL, p_late_only boolean DEFAULT false,
    p_entity_type text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    SELECT count(*) FROM ops_api.milestone_state m
    WHERE m.plan_id = p_plan AND m.entity_active
      AND (p_status IS NULL OR m.status = p_status)
      AND (NOT coalesce(p_late_only, false) OR m.is_late_now)
      AND (p_entity_type IS NULL OR m.entity_type = p_entity_type)
$$;

-- A plan's progress and health as one JSON document (see the README for its fields).
CREATE OR REPLACE FUNCTION ops_api.plan_progress(p_plan uuid, p_entity_type text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    WITH m AS MATERIALIZED (
        SELECT entity_type, entity_id, status, department, is_completed, is_late_now,
               days_late, days_late_to_plan
        FROM ops_api.milestone_state
        WHERE plan_id = p_plan AND entity_active
          AND (p_entity_type IS NULL OR entity_type = p_entity_type)
    ),
    totals AS (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE is_completed) AS completed,
               count(*) FILTER (WHERE is_late_now) AS late,
               coalesce(max(days_late), 0) AS max_days_late,
               coalesce(max(days_late_to_plan), 0) AS max_drift,
               coalesce(round(avg(days_late_to_plan), 1), 0) AS avg_drift,
               count(*) FILTER (WHERE is_late_now
                                AND status IN ('not_started', 'in_progress'))
                   AS recovery,
               count(DISTINCT entity_id) FILTER (WHERE is_late_now AND entity_type = 'style')
                   AS late_styles,
               count(DISTINCT entity_id) FILTER (WHERE is_late_now AND entity_type = 'material')
                   AS late_materials
        FROM m
    ),
    risk AS (
        SELECT CASE WHEN t.max_days_late >= coalesce(s.risk_critical_from, 30) THEN 'critical'
                    WHEN t.max_days_late >= coalesce(s.risk_high_from, 14) THEN 'high'
                    WHEN t.max_days_late >= coalesce(s.risk_medium_from, 7) THEN 'medium'
                    ELSE 'low' END AS level
        FROM totals t
        LEFT JOIN ops.read_settings s ON s.id
    )
    SELECT jsonb_build_object(
        'plan_id', p_plan,
        'entity_type', p_entity_type,
        'total', t.total,
        'completed', t.completed,
        'completion_pct', CASE WHEN t.total > 0
                               THEN round(100.0 * t.completed / t.total, 1) ELSE 0 END,
        'late', t.late,
        'on_time', t.total - t.late,
        'by_status', (
            SELECT jsonb_object_agg(k.status, coalesce(c.n, 0))
            FROM unnest(ARRAY['not_started', 'in_progress', 'waiting_on', 'rejected',
                              'approved', 'approved_with_corrections', 'complete', 'na',
                              'unknown']) AS k(status)
            LEFT JOIN (SELECT coalesce(status, 'unknown') AS status, count(*) AS n
                       FROM m GROUP BY 1) c ON c.status = k.status),
        'by_department', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'department', d.department, 'total', d.total, 'completed', d.completed,
                       'late', d.late,
                       'completion_pct', round(100.0 * d.completed / d.total, 1))
                   ORDER BY d.department NULLS LAST)
            FROM (SELECT department, count(*) AS total,
                         count(*) FILTER (WHERE is_completed) AS completed,
                         count(*) FILTER (WHERE is_late_now) AS late
                  FROM m GROUP BY department) d), '[]'::jsonb),
        'by_entity_type', coalesce((
            SELECT jsonb_object_agg(e.entity_type, jsonb_build_object(
                       'total', e.total, 'completed', e.completed, 'late', e.late,
                       'completion_pct', round(100.0 * e.completed / e.total, 1),
                       'entities', e.entities, 'late_entities', e.late_entities,
                       'max_days_late', e.max_days_late))
            FROM (SELECT entity_type, count(*) AS total,
                         count(*) FILTER (WHERE is_completed) AS completed,
                         count(*) FILTER (WHERE is_late_now) AS late,
                         count(DISTINCT entity_id) AS entities,
                         count(DISTINCT entity_id) FILTER (WHERE is_late_now) AS late_entities,
                         coalesce(max(days_late), 0) AS max_days_late
                  FROM m GROUP BY entity_type) e), '{}'::jsonb),
        'health', jsonb_build_object(
            'late_styles', t.late_styles,
            'late_materials', t.late_materials,
            'max_days_late', t.max_days_late,
            'max_baseline_drift', t.max_drift,
            'avg_baseline_drift', t.avg_drift,
            'recovery_opportunities', t.recovery,
            'risk_level', r.level)
    )
    FROM totals t CROSS JOIN risk r
$$;

-- Open milestones per assignee and week (of the target date; overdue work counts in the week
-- of today), with how many are late and the plans involved. Default window: this week and the
-- seven after it.
CREATE OR REPLACE FUNCTION ops_api.user_workload(
    p_assignee uuid DEFAULT NULL, p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (
    assignee_id uuid, assignee_name text, week_start date, open_milestones integer,
    late_milestones integer, plan_ids uuid[], plan_names text[]
)
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    WITH bounds AS (
        SELECT date_trunc('week', coalesce(p_from, ops_api.today()))::date AS lo,
               coalesce(p_to, date_trunc('week', coalesce(p_from, ops_api.today()))::date + 55)
                   AS hi,
               ops_api.today() AS today
    ),
    a AS (
        SELECT timeline_id, assignee_id, assignee_name FROM ops.tracking_timeline_assignment
        WHERE p_assignee IS NULL OR assignee_id = p_assignee
        UNION ALL
        SELECT timeline_id, assignee_id, assignee_name
        FROM ops.tracking_material_timeline_assignment
        WHERE p_assignee IS NULL OR assignee_id = p_assignee
    ),
    w AS (
        SELECT a.assignee_id, a.assignee_name, m.plan_id, m.plan_name, m.is_late_now,
               date_trunc('week', greatest(m.target_date, bounds.today))::date AS week_start
        FROM a
        JOIN ops_api.milestone_state m ON m.id = a.timeline_id
        CROSS JOIN bounds
        WHERE NOT m.is_completed AND m.entity_active AND m.target_date IS NOT NULL
    )
    SELECT w.assignee_id, max(w.assignee_name), w.week_start, count(*)::integer,
           count(*) FILTER (WHERE w.is_late_now)::integer,
           array_agg(DISTINCT w.plan_id), array_agg(DISTINCT w.plan_name)
               FILTER (WHERE w.plan_name IS NOT NULL)
    FROM w CROSS JOIN bounds
    WHERE w.week_start BETWEEN bounds.lo AND bounds.hi
    GROUP BY w.assignee_id, w.week_start
    ORDER BY w.assignee_id, w.week_start
$$;

-- One assignee's milestones across plans, filtered (target date window, status, late only).
CREATE OR REPLACE FUNCTION ops_api.user_milestones(
    p_assignee uuid, p_status text DEFAULT NULL, p_from date DEFAULT NULL,
    p_to date DEFAULT NULL, p_late_only boolean DEFAULT false,
    p_include_completed boolean DEFAULT false)
RETURNS SETOF ops_api.milestone_state
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    SELECT m.*
    FROM (SELECT timeline_id FROM ops.tracking_timeline_assignment
          WHERE assignee_id = p_assignee
          UNION
          SELECT timeline_id FROM ops.tracking_material_timeline_assignment
          WHERE assignee_id = p_assignee) a
    JOIN ops_api.milestone_state m ON m.id = a.timeline_id
    WHERE m.entity_active
      AND (coalesce(p_include_completed, false) OR NOT m.is_completed)
      AND (p_status IS NULL OR m.status = p_status)
      AND (p_from IS NULL OR m.target_date >= p_from)
      AND (p_to IS NULL OR m.target_date <= p_to)
      AND (NOT coalesce(p_late_only, false) OR m.is_late_now)
    ORDER BY m.target_date NULLS LAST, m.plan_name, m.style_number, m.id
$$;

-- A milestone, its predecessor and the milestones that follow it, in its row's schedule (the
-- milestone itself is the row whose id is p_node; its predecessor the row its predecessor_id
-- names; the others have it as predecessor_id).
CREATE OR REPLACE FUNCTION ops_api.node_dependencies(p_node uuid)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    WITH e AS (
        SELECT entity_id FROM ops_api.milestone_state WHERE id = p_node LIMIT 1
    ),
    t AS MATERIALIZED (
        SELECT m.* FROM e CROSS JOIN LATERAL ops_api.style_timeline(e.entity_id) m
    )
    SELECT t.* FROM t
    WHERE t.id = p_node OR t.predecessor_id = p_node
       OR t.id = (SELECT n.predecessor_id FROM t n WHERE n.id = p_node)
    ORDER BY t.depth, t.plan_date NULLS LAST, t.id
$$;

-- Every milestone of every plan with its schedule. Filter by plan_id: only the plans asked
-- for are computed.
CREATE OR REPLACE VIEW ops_api.milestone WITH (security_invoker = true) AS
SELECT m.entity_type, m.id, m.entity_id, p.id AS plan_id, m.plan_name, m.folder_id,
       m.folder_name, m.template_item_id, m.milestone_name, m.short_name, m.department,
       m.page_name, m.style_number, m.style_name, m.color_name, m.supplier_name,
       m.entity_active, m.status, m.status_label, m.plan_date, m.due_date, m.rev_date,
       m.final_date, m.target_date, m.assigned_to, m.shared_with, m.is_completed,
       m.is_late_now, m.days_late, m.days_late_to_plan, m.completed_late, m.predecessor_id,
       m.dependency_source, m.duration_days, m.start_date_plan, m.start_date_due,
       m.business_days, m.projected_start, m.projected_end, m.slack_days,
       m.on_critical_path, m.is_final, m.depth
FROM ops.tracking_plan p
CROSS JOIN LATERAL ops_api.plan_milestones(p.id) m;

-- 4. Who may read and run it. The service reads everything; signed-in readers see through the
-- views what the tables' policies let them see (callers' rights); anon nothing.
DO $$
DECLARE
    has_service constant boolean :=
        EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service');
    has_anon constant boolean := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon');
    has_authenticated constant boolean :=
        EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated');
    v text;
    f regprocedure;
BEGIN
    REVOKE ALL ON SCHEMA ops_api FROM PUBLIC;
    REVOKE ALL ON ops.read_settings FROM PUBLIC;
    REVOKE ALL ON FUNCTION ops.resolve_schedule_rules(uuid[], uuid[]) FROM PUBLIC;
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ops_api' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
    FOREACH v IN ARRAY ARRAY['plans', 'milestone_definitions', 'milestone_state', 'milestone']
    LOOP
        EXECUTE format('REVOKE ALL ON ops_api.%I FROM PUBLIC', v);
    END LOOP;
    IF has_service THEN
        GRANT USAGE ON SCHEMA ops_api TO beproduct_sync_service;
        GRANT SELECT, UPDATE ON ops.read_settings TO beproduct_sync_service;
        IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ops'
                       AND tablename = 'read_settings'
                       AND policyname = 'beproduct_sync_service_all') THEN
            CREATE POLICY beproduct_sync_service_all ON ops.read_settings
                AS PERMISSIVE FOR ALL TO beproduct_sync_service USING (true) WITH CHECK (true);
        END IF;
        GRANT EXECUTE ON FUNCTION ops.resolve_schedule_rules(uuid[], uuid[])
            TO beproduct_sync_service;
        FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ops_api' LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO beproduct_sync_service', f);
        END LOOP;
        FOREACH v IN ARRAY ARRAY['plans', 'milestone_definitions', 'milestone_state',
                                 'milestone'] LOOP
            EXECUTE format('GRANT SELECT ON ops_api.%I TO beproduct_sync_service', v);
        END LOOP;
    END IF;
    IF has_anon THEN
        REVOKE ALL ON SCHEMA ops_api FROM anon;
        REVOKE ALL ON ops.read_settings FROM anon;
    END IF;
    IF has_authenticated THEN
        GRANT USAGE ON SCHEMA ops_api TO authenticated;
        GRANT SELECT ON ops.read_settings TO authenticated;
        IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ops'
                       AND tablename = 'read_settings'
                       AND policyname = 'beproduct_sync_reader_select') THEN
            CREATE POLICY beproduct_sync_reader_select ON ops.read_settings
                AS PERMISSIVE FOR SELECT TO authenticated
                USING ((SELECT ops.can_read_tracking()));
        END IF;
        FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ops_api' LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated', f);
        END LOOP;
        FOREACH v IN ARRAY ARRAY['plans', 'milestone_definitions', 'milestone_state',
                                 'milestone'] LOOP
            EXECUTE format('GRANT SELECT ON ops_api.%I TO authenticated', v);
        END LOOP;
    END IF;
END
$$;
