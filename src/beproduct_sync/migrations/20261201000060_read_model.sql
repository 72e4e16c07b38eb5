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

-- Resolve the rules of definitions of `p_plans`: a rule anchors to the definition its ActDesc
-- names when that one is of the same plan and following the names never comes back (a
-- cycle). Rules of `p_changed` that cannot be followed are reported once, as warnings; only
-- those rules and the ones that could not be followed before are walked (the webhook apply
-- path calls this whenever a rule changes), joined by hash, each walk bounded by its own
-- plan's definitions. p_changed NULL: resolve every rule of p_plans (and warn about none).
CREATE OR REPLACE FUNCTION ops.resolve_schedule_rules(p_plans uuid[], p_changed uuid[])
RETURNS integer
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path = ''
AS $$
WITH RECURSIVE d AS MATERIALIZED (
    SELECT t.id, t.plan_id, t.name, t.rule_problem,
           nullif(t.act_desc, '00000000-0000-0000-0000-000000000000'::uuid) AS target,
           count(*) OVER (PARTITION BY t.plan_id) AS n
    FROM ops.tracking_timeline_template_item t
    WHERE t.plan_id = ANY (p_plans)
),
-- Only these can change: the changed rules, and the rules that could not be followed (a new
-- definition may be the one named, a changed rule may have broken the cycle). Every member
-- of a cycle a changed rule closes is on that rule's own walk.
starts AS MATERIALIZED (
    SELECT d.* FROM d
    WHERE d.id = ANY (p_changed) OR d.rule_problem IS NOT NULL OR p_changed IS NULL
),
walk (start_id, plan_id, cur, steps, n, seen) AS (
    SELECT s.id, s.plan_id, s.target, 1, s.n, ARRAY[s.id]
    FROM starts s WHERE s.target IS NOT NULL
    UNION ALL
    SELECT w.start_id, w.plan_id, x.target, w.steps + 1, w.n, w.seen || x.id
    FROM walk w JOIN d x ON x.id = w.cur AND x.plan_id = w.plan_id
    -- Stop on coming back to the start, at the end of a chain, or after as many steps as
    -- the plan has definitions (a chain running into a cycle that does not hold the start).
    WHERE w.cur <> w.start_id AND x.target IS NOT NULL AND w.steps <= w.n
),
cyclic AS (
    SELECT DISTINCT member AS id
    FROM walk w, unnest(w.seen) AS member
    WHERE w.cur = w.start_id
),
resolved AS (
    SELECT d.id, d.name, d.target,
           CASE WHEN d.target IS NULL THEN NULL
                WHEN k.id IS NULL THEN 'unknown'
                WHEN c.id IS NOT NULL THEN 'cycle'
           END AS problem
    FROM d
    LEFT JOIN d k ON k.id = d.target AND k.plan_id = d.plan_id
    LEFT JOIN cyclic c ON c.id = d.id
    WHERE d.id IN (SELECT id FROM starts UNION SELECT id FROM cyclic)
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

SELECT ops.resolve_schedule_rules(ARRAY(SELECT id FROM ops.tracking_plan), NULL);

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
-- "Today" is evaluated once per statement (a MATERIALIZED CTE): ops_api.today() has a fixed
-- search_path, so PostgreSQL cannot inline it and would call it for every row.
CREATE OR REPLACE VIEW ops_api.milestone_state WITH (security_invoker = true) AS
WITH today AS MATERIALIZED (SELECT ops_api.today() AS d)
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

-- Every milestone of a plan (active styles and materials), or of some of its style / material
-- rows (`p_entities`; plan_milestones: one row, `p_entity`; active or not), with:
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
-- The schedule of a row depends on that row alone, so a page of a plan needs only its rows.
-- The readable columns ride along with the schedule's narrow ones from the first scan
-- (joining ops_api.milestone_state at the end was planned as a nested loop over the plan's
-- milestones squared); lateness as in ops_api.milestone_state. PL/pgSQL for its plan: a SQL
-- function's statement is planned again at every call (longer than running it for one row),
-- PL/pgSQL keeps it for the connection. One generic plan (plan_cache_mode): the arguments only
-- choose which rows of a plan are read, and the generic plan ran as fast as each custom one
-- for one row, a page and a whole plan.
CREATE OR REPLACE FUNCTION ops_api.entity_milestones(p_plan uuid, p_entities uuid[])
RETURNS SETOF ops_api.milestone_row
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
RETURN QUERY
WITH RECURSIVE today AS MATERIALIZED (SELECT ops_api.today() AS d),
base AS MATERIALIZED (
    SELECT x.*,
           coalesce(x.rev_date, x.due_date) AS target_date,
           coalesce(x.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA'),
                    false) AS done,
           coalesce(x.plan_date, 'infinity'::date) AS k,
           t.name AS milestone_name, t.short_name, t.department, t.page_name,
           t.anchor_id, greatest(t.days, 0) AS rule_days,
           coalesce(t.calendar ILIKE '%business%', false) AS business,
           coalesce(t.rule_version IS NOT NULL AND t.rule_problem IS NULL
                    AND t.anchor_id IS NULL, false) AS starts_schedule
    FROM (
        SELECT 'style'::text AS entity_type, m.id, m.plan_style_id AS entity_id,
               m.template_item_id, m.status, m.status_label, m.plan_date, m.due_date,
               m.rev_date, m.final_date, m.assigned_to, m.shared_with,
               s.active AS entity_active, s.style_number, s.style_name, s.color_name,
               s.supplier_name
        FROM ops.tracking_plan_style s
        JOIN ops.tracking_plan_style_timeline m ON m.plan_style_id = s.id
        WHERE s.plan_id = p_plan
          AND CASE WHEN p_entities IS NULL THEN s.active ELSE s.id = ANY (p_entities) END
        UNION ALL
        SELECT 'material'::text, m.id, m.plan_material_id, m.template_item_id, m.status,
               m.status_label, m.plan_date, m.due_date, m.rev_date, m.final_date,
               m.assigned_to, m.shared_with, s.active, s.style_number, s.style_name,
               s.color_name, s.supplier_name
        FROM ops.tracking_plan_material s
        JOIN ops.tracking_plan_material_timeline m ON m.plan_material_id = s.id
        WHERE s.plan_id = p_plan
          AND CASE WHEN p_entities IS NULL THEN s.active ELSE s.id = ANY (p_entities) END
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
    CROSS JOIN today
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
SELECT b.entity_type, b.id, b.entity_id, pl.id, pl.name, pl.folder_id, pl.folder_name,
       b.template_item_id, b.milestone_name, b.short_name, b.department, b.page_name,
       b.style_number, b.style_name, b.color_name, b.supplier_name, b.entity_active,
       lower(b.status::text), b.status_label, b.plan_date, b.due_date, b.rev_date,
       b.final_date, b.target_date, b.assigned_to, b.shared_with,
       b.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA'),
       NOT b.done AND b.target_date < today.d,
       CASE WHEN NOT b.done AND b.target_date < today.d THEN today.d - b.target_date
            ELSE 0 END,
       greatest(coalesce(b.due_date - b.plan_date, 0), 0),
       b.done AND coalesce(b.final_date > b.target_date, false),
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
JOIN base b ON b.id = n.id
JOIN w ON w.id = n.id
JOIN reach r ON r.id = n.id
JOIN final f ON f.entity_type = n.entity_type AND f.entity_id = n.entity_id
CROSS JOIN today
-- The plan's row once (an inner join, as ops_api.milestone_state's).
CROSS JOIN (SELECT p.id, p.name, p.folder_id, fo.name AS folder_name
            FROM ops.tracking_plan p
            LEFT JOIN ops.tracking_folder fo ON fo.id = p.folder_id
            WHERE p.id = p_plan) pl;
END
$$;

CREATE OR REPLACE FUNCTION ops_api.plan_milestones(p_plan uuid, p_entity uuid DEFAULT NULL)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    SELECT * FROM ops_api.entity_milestones(
        p_plan, CASE WHEN p_entity IS NULL THEN NULL ELSE ARRAY[p_entity] END)
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
-- target and the plan's end date; latest projected ends first. Only the rows' ends are
-- needed, so this is ops_api.entity_milestones' schedule on narrow rows (same base, inferred,
-- anchored and node steps; keep them in step) whose walk carries the depth where the chain
-- deciding each projected end starts instead of the path itself: the chain's length is the
-- depth of the row's last milestone minus that depth plus one. No slack, no start dates, no
-- readable columns but the last milestone's. The property test checks it against
-- ops_api.critical_path on random graphs. PL/pgSQL with one generic plan kept for the
-- connection, as ops_api.entity_milestones (use_column: the result's column names are also
-- the names of the query's columns). The walk starts from `is_root`, a boolean column the
-- planner estimates at half the nodes (`pred IS NULL` at 0.5 %), so that it takes the walk
-- for the larger side of each step's join and hashes the nodes once for all the steps,
-- instead of hashing each step's rows and reading every node again at each step (about 20
-- steps of 1,330 nodes for a plan, a third of the time); enable_mergejoin = off, or it sorts
-- every node at each step instead.
CREATE OR REPLACE FUNCTION ops_api.plan_critical_path(p_plan uuid)
RETURNS TABLE (
    entity_type text, entity_id uuid, style_number text, style_name text, color_name text,
    final_milestone_id uuid, final_milestone_name text, target_end date, projected_end date,
    days_slipped integer, plan_end_date date, days_past_plan_end integer,
    critical_path_length integer, late_milestones integer
)
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
SET plan_cache_mode = force_generic_plan SET enable_mergejoin = off
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH RECURSIVE today AS MATERIALIZED (SELECT ops_api.today() AS d),
base AS MATERIALIZED (
    SELECT x.*,
           coalesce(x.rev_date, x.due_date) AS target_date,
           coalesce(x.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA'),
                    false) AS done,
           coalesce(x.plan_date, 'infinity'::date) AS k,
           t.anchor_id, greatest(t.days, 0) AS rule_days,
           coalesce(t.calendar ILIKE '%business%', false) AS business,
           coalesce(t.rule_version IS NOT NULL AND t.rule_problem IS NULL
                    AND t.anchor_id IS NULL, false) AS starts_schedule
    FROM (
        SELECT 'style'::text AS entity_type, m.id, m.plan_style_id AS entity_id,
               m.template_item_id, m.status, m.plan_date, m.due_date,
               m.rev_date, m.final_date
        FROM ops.tracking_plan_style s
        JOIN ops.tracking_plan_style_timeline m ON m.plan_style_id = s.id
        WHERE s.plan_id = p_plan AND s.active
        UNION ALL
        SELECT 'material'::text, m.id, m.plan_material_id, m.template_item_id, m.status,
               m.plan_date, m.due_date, m.rev_date, m.final_date
        FROM ops.tracking_plan_material s
        JOIN ops.tracking_plan_material_timeline m ON m.plan_material_id = s.id
        WHERE s.plan_id = p_plan AND s.active
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
    SELECT b.entity_type, b.id, b.entity_id, b.done, c.pred, c.pred IS NULL AS is_root,
           greatest(CASE WHEN c.by_rule AND b.business AND st.start_plan IS NOT NULL
                         THEN ops_api.add_days(st.start_plan, b.rule_days, true) - st.start_plan
                         WHEN c.by_rule THEN coalesce(b.rule_days, 0)
                         WHEN c.pred IS NOT NULL THEN b.plan_date - st.start_plan
                         ELSE 0 END, 0) AS duration,
           CASE WHEN b.done THEN coalesce(b.final_date, b.target_date, b.plan_date)
                ELSE greatest(coalesce(b.target_date, b.plan_date), today.d) END AS own_end
    FROM base b
    CROSS JOIN today
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
walk (id, entity_type, entity_id, proj, driver_depth, depth) AS (
    SELECT n.id, n.entity_type, n.entity_id, n.own_end, 1, 1
    FROM node n WHERE n.is_root
    UNION ALL
    SELECT n.id, n.entity_type, n.entity_id,
           CASE WHEN n.done THEN n.own_end ELSE greatest(n.own_end, w.proj + n.duration) END,
           CASE WHEN NOT n.done AND w.proj + n.duration >= coalesce(n.own_end, w.proj)
                THEN w.driver_depth ELSE w.depth + 1 END,
           w.depth + 1
    FROM walk w JOIN node n ON n.pred = w.id
    WHERE w.depth < 10000  -- never reached: links only go to earlier dates
),
final AS (
    SELECT DISTINCT ON (w.entity_type, w.entity_id)
           w.entity_type, w.entity_id, w.id, w.proj, w.depth - w.driver_depth + 1 AS chain
    FROM walk w
    ORDER BY w.entity_type, w.entity_id, w.proj DESC NULLS LAST, w.depth DESC, w.id
),
late AS (
    SELECT b.entity_type, b.entity_id,
           count(*) FILTER (WHERE NOT b.done AND b.target_date < today.d)::integer AS n
    FROM base b CROSS JOIN today
    GROUP BY b.entity_type, b.entity_id
)
SELECT f.entity_type, f.entity_id, s.style_number, s.style_name, s.color_name,
       f.id, t.name, b.target_date, f.proj,
       greatest(coalesce(f.proj - b.target_date, 0), 0),
       p.end_date, greatest(coalesce(f.proj - p.end_date, 0), 0),
       f.chain, l.n
FROM final f
JOIN base b ON b.id = f.id
JOIN late l ON l.entity_type = f.entity_type AND l.entity_id = f.entity_id
LEFT JOIN ops.tracking_timeline_template_item t ON t.id = b.template_item_id
LEFT JOIN (SELECT id, style_number, style_name, color_name FROM ops.tracking_plan_style
           UNION ALL
           SELECT id, style_number, style_name, color_name FROM ops.tracking_plan_material) s
  ON s.id = f.entity_id
JOIN ops.tracking_plan p ON p.id = p_plan
ORDER BY f.proj DESC NULLS LAST, s.style_number, f.entity_id;
END
$$;

-- A plan's milestones, filtered and paged (plan_timeline_count gives the total). The page
-- is chosen on the plain rows first; only its styles' schedules are computed.
CREATE OR REPLACE FUNCTION ops_api.plan_timeline(
    p_plan uuid, p_status text DEFAULT NULL, p_late_only boolean DEFAULT false,
    p_page integer DEFAULT 1, p_page_size integer DEFAULT 100,
    p_entity_type text DEFAULT NULL)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    WITH page AS MATERIALIZED (
        SELECT m.id, m.entity_id
        FROM ops_api.milestone_state m
        WHERE m.plan_id = p_plan AND m.entity_active
          AND (p_status IS NULL OR m.status = p_status)
          AND (NOT coalesce(p_late_only, false) OR m.is_late_now)
          AND (p_entity_type IS NULL OR m.entity_type = p_entity_type)
        ORDER BY m.entity_type DESC, m.style_number, m.entity_id, m.plan_date NULLS LAST,
                 m.milestone_name, m.id
        LIMIT greatest(p_page_size, 0)
        OFFSET greatest(p_page - 1, 0) * greatest(p_page_size, 0)
    )
    SELECT m.*
    FROM ops_api.entity_milestones(p_plan, ARRAY(SELECT DISTINCT entity_id FROM page)) m
    WHERE m.id IN (SELECT id FROM page)
    ORDER BY m.entity_type DESC, m.style_number, m.entity_id, m.plan_date NULLS LAST,
             m.milestone_name, m.id
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
    WITH today AS MATERIALIZED (SELECT ops_api.today() AS d),
    raw AS (
        SELECT 'style'::text AS entity_type, m.plan_style_id AS entity_id, m.template_item_id,
               m.status, m.plan_date, m.due_date, coalesce(m.rev_date, m.due_date) AS target
        FROM ops.tracking_plan_style s
        JOIN ops.tracking_plan_style_timeline m ON m.plan_style_id = s.id
        WHERE s.plan_id = p_plan AND s.active
          AND (p_entity_type IS NULL OR p_entity_type = 'style')
        UNION ALL
        SELECT 'material'::text, m.plan_material_id, m.template_item_id, m.status, m.plan_date,
               m.due_date, coalesce(m.rev_date, m.due_date)
        FROM ops.tracking_plan_material s
        JOIN ops.tracking_plan_material_timeline m ON m.plan_material_id = s.id
        WHERE s.plan_id = p_plan AND s.active
          AND (p_entity_type IS NULL OR p_entity_type = 'material')
    ),
    m AS MATERIALIZED (
        SELECT r.entity_type, r.entity_id, lower(r.status::text) AS status, t.department,
               coalesce(r.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA'),
                        false) AS is_completed,
               coalesce(r.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE',
                                         'NA'), true)
                   AND r.target < today.d AS is_late_now,
               CASE WHEN coalesce(r.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS',
                                                   'COMPLETE', 'NA'), true)
                         AND r.target < today.d
                    THEN today.d - r.target ELSE 0 END AS days_late,
               greatest(coalesce(r.due_date - r.plan_date, 0), 0) AS days_late_to_plan
        FROM raw r
        CROSS JOIN today
        LEFT JOIN ops.tracking_timeline_template_item t ON t.id = r.template_item_id
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
-- The assignments are read whole when no assignee is asked for (the `p_assignee IS NULL`
-- branch; PostgreSQL skips the branch whose condition is false before reading anything), so
-- the planner joins them by hash rather than looking up 30,000 milestones one by one. A date's
-- week starts on the Monday on or before it: 2000-01-03 was a Monday (7,000,000 days, a
-- multiple of 7, keep the remainder positive). Grouping first by assignee, week and plan makes
-- the plan list a plain ordered aggregate; that grouping is done by hash (enable_sort = off:
-- the planner underestimates the open assignments tenfold and would sort all of them; the few
-- result rows are still sorted).
CREATE OR REPLACE FUNCTION ops_api.user_workload(
    p_assignee uuid DEFAULT NULL, p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (
    assignee_id uuid, assignee_name text, week_start date, open_milestones integer,
    late_milestones integer, plan_ids uuid[], plan_names text[]
)
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1 SET enable_sort = off
AS $$
    WITH bounds AS MATERIALIZED (
        SELECT t.today, t.lo, coalesce(p_to, t.lo + 55) AS hi
        FROM (SELECT d.today,
                     coalesce(p_from, d.today)
                         - (coalesce(p_from, d.today) - DATE '2000-01-03' + 7000000) % 7 AS lo
              FROM (SELECT ops_api.today() AS today) d) t
    ),
    style_work AS (
        SELECT timeline_id, assignee_id, assignee_name FROM ops.tracking_timeline_assignment
        WHERE p_assignee IS NULL
        UNION ALL
        SELECT timeline_id, assignee_id, assignee_name FROM ops.tracking_timeline_assignment
        WHERE assignee_id = p_assignee
    ),
    material_work AS (
        SELECT timeline_id, assignee_id, assignee_name
        FROM ops.tracking_material_timeline_assignment
        WHERE p_assignee IS NULL
        UNION ALL
        SELECT timeline_id, assignee_id, assignee_name
        FROM ops.tracking_material_timeline_assignment
        WHERE assignee_id = p_assignee
    ),
    open_work AS (
        SELECT a.assignee_id, a.assignee_name, s.plan_id,
               coalesce(m.rev_date, m.due_date) AS target
        FROM style_work a
        JOIN ops.tracking_plan_style_timeline m ON m.id = a.timeline_id
        JOIN ops.tracking_plan_style s ON s.id = m.plan_style_id
        WHERE s.active
          AND coalesce(m.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE',
                                        'NA'), true)
          AND coalesce(m.rev_date, m.due_date) IS NOT NULL
        UNION ALL
        SELECT a.assignee_id, a.assignee_name, s.plan_id, coalesce(m.rev_date, m.due_date)
        FROM material_work a
        JOIN ops.tracking_plan_material_timeline m ON m.id = a.timeline_id
        JOIN ops.tracking_plan_material s ON s.id = m.plan_material_id
        WHERE s.active
          AND coalesce(m.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE',
                                        'NA'), true)
          AND coalesce(m.rev_date, m.due_date) IS NOT NULL
    ),
    weeks AS (
        SELECT o.assignee_id, o.assignee_name, o.plan_id, o.target < b.today AS late,
               x.d - (x.d - DATE '2000-01-03' + 7000000) % 7 AS week_start
        FROM open_work o
        CROSS JOIN bounds b
        CROSS JOIN LATERAL (SELECT greatest(o.target, b.today) AS d) x
    ),
    per_plan AS (
        SELECT w.assignee_id, w.week_start, w.plan_id, max(w.assignee_name) AS assignee_name,
               count(*) AS open_milestones, count(*) FILTER (WHERE w.late) AS late_milestones
        FROM weeks w CROSS JOIN bounds b
        WHERE w.week_start BETWEEN b.lo AND b.hi
        GROUP BY w.assignee_id, w.week_start, w.plan_id
    ),
    grouped AS (
        SELECT g.assignee_id, max(g.assignee_name) AS assignee_name, g.week_start,
               sum(g.open_milestones)::integer AS open_milestones,
               sum(g.late_milestones)::integer AS late_milestones,
               array_agg(g.plan_id ORDER BY g.plan_id) AS plan_ids
        FROM per_plan g
        GROUP BY g.assignee_id, g.week_start
    )
    SELECT g.assignee_id, g.assignee_name, g.week_start, g.open_milestones, g.late_milestones,
           g.plan_ids,
           ARRAY(SELECT p.name FROM ops.tracking_plan p
                 WHERE p.id = ANY (g.plan_ids) AND p.name IS NOT NULL ORDER BY p.name)
    FROM grouped g
    ORDER BY g.assignee_id, g.week_start
$$;

-- One assignee's milestones, filtered as ops_api.user_milestones, as narrow rows in its order
-- (n from 1): what a page needs before any readable column is read. Its milestones are found
-- by primary key; their rows (styles, plans) are joined by hash: the planner cannot know how
-- many milestones an assignee has and would otherwise look each row up one by one (thousands
-- of lookups into a table read whole faster), hence enable_nestloop = off here.
CREATE OR REPLACE FUNCTION ops_api.user_milestone_order(
    p_assignee uuid, p_status text DEFAULT NULL, p_from date DEFAULT NULL,
    p_to date DEFAULT NULL, p_late_only boolean DEFAULT false,
    p_include_completed boolean DEFAULT false)
RETURNS TABLE (id uuid, n bigint)
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1 SET enable_nestloop = off
AS $$
    WITH today AS MATERIALIZED (SELECT ops_api.today() AS d),
    mine AS MATERIALIZED (
        SELECT timeline_id FROM ops.tracking_timeline_assignment
        WHERE assignee_id = p_assignee
        UNION
        SELECT timeline_id FROM ops.tracking_material_timeline_assignment
        WHERE assignee_id = p_assignee
    ),
    x AS (
        SELECT m.id, s.plan_id, s.style_number, m.status, coalesce(m.rev_date, m.due_date) AS target
        FROM ops.tracking_plan_style_timeline m
        JOIN ops.tracking_plan_style s ON s.id = m.plan_style_id
        WHERE m.id = ANY (ARRAY(SELECT timeline_id FROM mine)) AND s.active
        UNION ALL
        SELECT m.id, s.plan_id, s.style_number, m.status, coalesce(m.rev_date, m.due_date)
        FROM ops.tracking_plan_material_timeline m
        JOIN ops.tracking_plan_material s ON s.id = m.plan_material_id
        WHERE m.id = ANY (ARRAY(SELECT timeline_id FROM mine)) AND s.active
    )
    -- Completed and lateness exactly as in ops_api.milestone_state (a milestone without a
    -- status is neither completed nor, unless asked for, listed).
    SELECT x.id, row_number() OVER (ORDER BY x.target NULLS LAST, p.name, x.style_number, x.id)
    FROM x
    JOIN ops.tracking_plan p ON p.id = x.plan_id
    CROSS JOIN today
    WHERE (coalesce(p_include_completed, false)
           OR NOT x.status IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE', 'NA'))
      AND (p_status IS NULL OR lower(x.status::text) = p_status)
      AND (p_from IS NULL OR x.target >= p_from)
      AND (p_to IS NULL OR x.target <= p_to)
      AND (NOT coalesce(p_late_only, false)
           OR (coalesce(x.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE',
                                         'NA'), true)
               AND x.target < today.d))
    ORDER BY 2
$$;

-- One assignee's milestones across plans, filtered (target date window, status, late only):
-- their order first (ops_api.user_milestone_order), then their rows by primary key.
CREATE OR REPLACE FUNCTION ops_api.user_milestones(
    p_assignee uuid, p_status text DEFAULT NULL, p_from date DEFAULT NULL,
    p_to date DEFAULT NULL, p_late_only boolean DEFAULT false,
    p_include_completed boolean DEFAULT false)
RETURNS SETOF ops_api.milestone_state
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    WITH o AS MATERIALIZED (
        SELECT * FROM ops_api.user_milestone_order(p_assignee, p_status, p_from, p_to,
                                                   p_late_only, p_include_completed)
    )
    SELECT m.*
    FROM ops_api.milestone_state m
    JOIN o ON o.id = m.id
    WHERE m.id = ANY (ARRAY(SELECT o.id FROM o))
    ORDER BY o.n
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
-- The read model's functions by name: other functions in ops_api (reverse sync's
-- request_timeline_change) keep their own, narrower grants.
DO $$
DECLARE
    has_service constant boolean :=
        EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service');
    has_anon constant boolean := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon');
    has_authenticated constant boolean :=
        EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated');
    read_functions constant text[] := ARRAY[
        'today', 'add_days', 'plan_milestones', 'entity_milestones', 'style_timeline',
        'critical_path', 'plan_critical_path', 'plan_timeline', 'plan_timeline_count',
        'plan_progress', 'user_workload', 'user_milestone_order', 'user_milestones',
        'node_dependencies'];
    v text;
    f regprocedure;
BEGIN
    REVOKE ALL ON SCHEMA ops_api FROM PUBLIC;
    REVOKE ALL ON ops.read_settings FROM PUBLIC;
    REVOKE ALL ON FUNCTION ops.resolve_schedule_rules(uuid[], uuid[]) FROM PUBLIC;
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'ops_api' AND p.proname = ANY (read_functions) LOOP
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
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'ops_api' AND p.proname = ANY (read_functions) LOOP
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
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'ops_api' AND p.proname = ANY (read_functions) LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated', f);
        END LOOP;
        FOREACH v IN ARRAY ARRAY['plans', 'milestone_definitions', 'milestone_state',
                                 'milestone'] LOOP
            EXECUTE format('GRANT SELECT ON ops_api.%I TO authenticated', v);
        END LOOP;
    END IF;
END
$$;
