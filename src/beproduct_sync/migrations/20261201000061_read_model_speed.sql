-- The read model, faster (same names, arguments and results as 20261201000060_read_model):
--   * resolving schedule rules (on the webhook apply path whenever a rule changes) walks only
--     from the changed rules and those that could not be followed, joins by hash instead of
--     probing a CTE per definition, and bounds each walk by its own plan's definitions;
--   * a user's milestones are looked up by id, and the workload and a plan's progress read the
--     tables they need instead of the readable view with every name joined;
--   * a page of a plan's timeline computes the schedules of its own rows only
--     (ops_api.entity_milestones, of which plan_milestones is now the one-row case).
-- Plain SQL, idempotent.

-- p_changed NULL: resolve every rule of p_plans (and warn about none).
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

CREATE OR REPLACE FUNCTION ops_api.user_milestones(
    p_assignee uuid, p_status text DEFAULT NULL, p_from date DEFAULT NULL,
    p_to date DEFAULT NULL, p_late_only boolean DEFAULT false,
    p_include_completed boolean DEFAULT false)
RETURNS SETOF ops_api.milestone_state
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    -- `id = ANY (ARRAY(…))` reaches into both kinds' tables by primary key.
    SELECT m.*
    FROM ops_api.milestone_state m
    WHERE m.id = ANY (ARRAY(
              SELECT timeline_id FROM ops.tracking_timeline_assignment
              WHERE assignee_id = p_assignee
              UNION
              SELECT timeline_id FROM ops.tracking_material_timeline_assignment
              WHERE assignee_id = p_assignee))
      AND m.entity_active
      AND (coalesce(p_include_completed, false) OR NOT m.is_completed)
      AND (p_status IS NULL OR m.status = p_status)
      AND (p_from IS NULL OR m.target_date >= p_from)
      AND (p_to IS NULL OR m.target_date <= p_to)
      AND (NOT coalesce(p_late_only, false) OR m.is_late_now)
    ORDER BY m.target_date NULLS LAST, m.plan_name, m.style_number, m.id
$$;

CREATE OR REPLACE FUNCTION ops_api.user_workload(
    p_assignee uuid DEFAULT NULL, p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (
    assignee_id uuid, assignee_name text, week_start date, open_milestones integer,
    late_milestones integer, plan_ids uuid[], plan_names text[]
)
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    WITH bounds AS MATERIALIZED (
        SELECT t.today,
               coalesce(p_from, t.today) - (extract(isodow FROM coalesce(p_from, t.today))::integer - 1)
                   AS lo
        FROM (SELECT ops_api.today() AS today) t
    ),
    open_work AS (
        SELECT a.assignee_id, a.assignee_name, s.plan_id,
               coalesce(m.rev_date, m.due_date) AS target
        FROM ops.tracking_timeline_assignment a
        JOIN ops.tracking_plan_style_timeline m ON m.id = a.timeline_id
        JOIN ops.tracking_plan_style s ON s.id = m.plan_style_id
        WHERE (p_assignee IS NULL OR a.assignee_id = p_assignee) AND s.active
          AND coalesce(m.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE',
                                        'NA'), true)
          AND coalesce(m.rev_date, m.due_date) IS NOT NULL
        UNION ALL
        SELECT a.assignee_id, a.assignee_name, s.plan_id, coalesce(m.rev_date, m.due_date)
        FROM ops.tracking_material_timeline_assignment a
        JOIN ops.tracking_plan_material_timeline m ON m.id = a.timeline_id
        JOIN ops.tracking_plan_material s ON s.id = m.plan_material_id
        WHERE (p_assignee IS NULL OR a.assignee_id = p_assignee) AND s.active
          AND coalesce(m.status NOT IN ('APPROVED', 'APPROVED_WITH_CORRECTIONS', 'COMPLETE',
                                        'NA'), true)
          AND coalesce(m.rev_date, m.due_date) IS NOT NULL
    ),
    weeks AS (
        SELECT o.assignee_id, o.assignee_name, o.plan_id, o.target < b.today AS late,
               greatest(o.target, b.today)
                   - (extract(isodow FROM greatest(o.target, b.today))::integer - 1) AS week_start
        FROM open_work o CROSS JOIN bounds b
    ),
    grouped AS (
        SELECT w.assignee_id, max(w.assignee_name) AS assignee_name, w.week_start,
               count(*)::integer AS open_milestones,
               count(*) FILTER (WHERE w.late)::integer AS late_milestones,
               array_agg(DISTINCT w.plan_id) AS plan_ids
        FROM weeks w CROSS JOIN bounds b
        WHERE w.week_start BETWEEN b.lo AND coalesce(p_to, b.lo + 55)
        GROUP BY w.assignee_id, w.week_start
    )
    SELECT g.assignee_id, g.assignee_name, g.week_start, g.open_milestones, g.late_milestones,
           g.plan_ids,
           ARRAY(SELECT p.name FROM ops.tracking_plan p
                 WHERE p.id = ANY (g.plan_ids) AND p.name IS NOT NULL ORDER BY p.name)
    FROM grouped g
    ORDER BY g.assignee_id, g.week_start
$$;

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

-- plan_milestones for several rows of a plan at once (p_entities NULL: every active row). The
-- schedule of a row depends on that row alone, so a page of a plan needs only its rows.
CREATE OR REPLACE FUNCTION ops_api.entity_milestones(p_plan uuid, p_entities uuid[])
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
          AND CASE WHEN p_entities IS NULL THEN s.active ELSE s.id = ANY (p_entities) END
        UNION ALL
        SELECT 'material'::text, m.id, m.plan_material_id, m.template_item_id, m.status,
               m.plan_date, m.due_date, m.rev_date, m.final_date
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
WHERE ms.plan_id = p_plan AND (p_entities IS NULL OR ms.entity_id = ANY (p_entities))
$$;

CREATE OR REPLACE FUNCTION ops_api.plan_milestones(p_plan uuid, p_entity uuid DEFAULT NULL)
RETURNS SETOF ops_api.milestone_row
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = '' SET jit = off SET random_page_cost = 1.1
AS $$
    SELECT * FROM ops_api.entity_milestones(
        p_plan, CASE WHEN p_entity IS NULL THEN NULL ELSE ARRAY[p_entity] END)
$$;

-- The page is chosen on the plain rows first; only its styles' schedules are computed.
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

-- CREATE OR REPLACE keeps each function's grants; these restate them for a database where
-- 20261201000060 ran before the service role existed.
DO $$
DECLARE
    f regprocedure;
BEGIN
    REVOKE ALL ON FUNCTION ops.resolve_schedule_rules(uuid[], uuid[]) FROM PUBLIC;
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ops_api' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO beproduct_sync_service', f);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated', f);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        GRANT EXECUTE ON FUNCTION ops.resolve_schedule_rules(uuid[], uuid[])
            TO beproduct_sync_service;
    END IF;
END
$$;
