-- The read model, faster (same names, arguments and results as 20261201000060_read_model):
--   * resolving schedule rules (on the webhook apply path whenever a rule changes) walks only
--     from the changed rules and those that could not be followed, joins by hash instead of
--     probing a CTE per definition, and bounds each walk by its own plan's definitions;
--   * a user's milestones are looked up by id, and the workload and a plan's progress read the
--     tables they need instead of the readable view with every name joined.
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
