-- The read model's slow reads, faster (same names, arguments and results as before):
--   * "today" is evaluated once per statement, not once per row: ops_api.today() has a fixed
--     search_path, so PostgreSQL cannot inline it and ran it as a function call for every row
--     (about 2 microseconds each, three times per row of milestone_state);
--   * a plan's schedule (ops_api.entity_milestones) carries its readable columns through the
--     computation instead of joining ops_api.milestone_state at the end: that join was
--     estimated at a handful of rows and planned as a nested loop over the plan's milestones
--     squared (1.8 million comparisons for a plan of 1,330 milestones);
--   * a user's milestones are filtered and ordered on narrow rows, and only the rows asked for
--     are read in full (ops_api.user_milestones_page);
--   * the workload groups in two steps by hash instead of sorting every open assignment, and
--     finds a date's week by arithmetic.
-- Plain SQL, idempotent.

-- "today" once per statement (a MATERIALIZED CTE is evaluated once; columns, order and
-- meaning unchanged).
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


-- plan_milestones for several rows of a plan at once (p_entities NULL: every active row). The
-- readable columns ride along with the schedule's narrow ones from the first scan; lateness as
-- in ops_api.milestone_state.
CREATE OR REPLACE FUNCTION ops_api.entity_milestones(p_plan uuid, p_entities uuid[])
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
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
            WHERE p.id = p_plan) pl
$$;

-- Per active style / material of a plan: its last projected milestone against its target and
-- the plan's end date, latest first (same results as before). Only the rows' ends are needed,
-- so this is ops_api.entity_milestones' schedule on narrow rows (same base, inferred,
-- anchored and node steps; keep them in step) whose walk carries the depth where the chain
-- deciding each projected end starts instead of the path itself: the chain's length is the
-- depth of the row's last milestone minus that depth plus one. No slack, no start dates, no
-- readable columns but the last milestone's. The property test checks it against
-- ops_api.critical_path on random graphs.
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
    SELECT b.entity_type, b.id, b.entity_id, b.done, c.pred,
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
    FROM node n WHERE n.pred IS NULL
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
ORDER BY f.proj DESC NULLS LAST, s.style_number, f.entity_id
$$;

-- Open milestones per assignee and week, as before. The assignments are read whole when no
-- assignee is asked for (the `p_assignee IS NULL` branch; PostgreSQL skips the branch whose
-- condition is false before reading anything), so the planner joins them by hash rather than
-- looking up 30,000 milestones one by one. A date's week starts on the Monday on or before it:
-- 2000-01-03 was a Monday (7,000,000 days, a multiple of 7, keep the remainder positive).
-- Grouping first by assignee, week and plan makes the plan list a plain ordered aggregate;
-- that grouping is done by hash (enable_sort = off: the planner underestimates the open
-- assignments tenfold and would sort all of them; the few result rows are still sorted).
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

-- The same list, in full: its order first, then its rows by primary key.
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

-- The new function gets the read model's grants (CREATE OR REPLACE kept the others').
DO $$
BEGIN
    REVOKE ALL ON FUNCTION ops_api.user_milestone_order(uuid, text, date, date, boolean, boolean)
        FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        GRANT EXECUTE ON FUNCTION
            ops_api.user_milestone_order(uuid, text, date, date, boolean, boolean)
            TO beproduct_sync_service;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        GRANT EXECUTE ON FUNCTION
            ops_api.user_milestone_order(uuid, text, date, date, boolean, boolean)
            TO authenticated;
    END IF;
END
$$;
