"""The dashboard `serve` shows at `/`: server-rendered pages (Jinja2), refreshed in place by
htmx, charts by Chart.js, every asset shipped in this package. See `pages` for the routes,
`session` for sign-in and CSRF, `render` for templates, assets and security headers."""

from __future__ import annotations

from beproduct_sync.web.dashboard.pages import Dashboard, routes

__all__ = ["Dashboard", "routes"]
