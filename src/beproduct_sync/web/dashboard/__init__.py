"""The dashboard `serve` shows at `/`: server-rendered pages (Jinja2), refreshed in place by
htmx, charts by Chart.js, every asset shipped in this package. `pages` holds the sign-in and
Operations handlers, `plans` the Plans and Workload pages, `session` sign-in and CSRF,
`render` templates, assets and security headers, `snapshot` the figures shared by viewers."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from beproduct_sync.web.dashboard import pages, plans
from beproduct_sync.web.dashboard.pages import Dashboard

__all__ = ["Dashboard", "routes"]


def routes() -> list[BaseRoute]:
    """The dashboard's routes, mounted at the root of the receiver's app."""
    return [
        Route("/", pages.operations_page, methods=["GET"]),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/fragments/operations/panels", pages.operations_panels, methods=["GET"]),
        Route("/fragments/operations/chart", pages.operations_chart, methods=["GET"]),
        Route("/actions/replay", pages.replay_dead_letter, methods=["POST"]),
        Route("/plans", plans.plans_page, methods=["GET"]),
        Route("/plans/{plan_id}", plans.plan_page, methods=["GET"]),
        Route("/workload", plans.workload_page, methods=["GET"]),
        Route("/workload/{assignee}", plans.assignee_page, methods=["GET"]),
        Route("/static/{name}", pages.static, methods=["GET"]),
    ]
