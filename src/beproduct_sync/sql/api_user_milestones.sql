-- A page of one assignee's milestones: the whole list is ordered on narrow rows
-- (ops_api.user_milestone_order), and only the page's rows are read in full (`id = ANY
-- (ARRAY(…))` reaches into both kinds' tables by primary key).
WITH o AS MATERIALIZED (
    SELECT * FROM ops_api.user_milestone_order(%(user)s, %(status)s, %(from)s, %(to)s,
                                               %(late_only)s, %(include_completed)s)
),
page AS MATERIALIZED (
    SELECT o.id, o.n FROM o ORDER BY o.n LIMIT %(limit)s OFFSET %(offset)s
)
SELECT m.*, (SELECT count(*) FROM o) AS total
FROM ops_api.milestone_state m
JOIN page ON page.id = m.id
WHERE m.id = ANY (ARRAY(SELECT id FROM page))
ORDER BY page.n
