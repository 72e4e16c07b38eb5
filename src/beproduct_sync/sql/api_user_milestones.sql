SELECT m.*, count(*) OVER () AS total
FROM ops_api.user_milestones(%(user)s, %(status)s, %(from)s, %(to)s, %(late_only)s,
                             %(include_completed)s) m
LIMIT %(limit)s OFFSET %(offset)s
