"""Templates, vendored assets and the security headers of every dashboard answer.

Everything the browser loads comes from this package (no CDN, no build step): the templates,
`dashboard.css`, `dashboard.js`, and the vendored htmx and Chart.js with their licences.
No page has inline script or style, so the policy can say `script-src 'self'`.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import Response

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HTML = "text/html; charset=utf-8"
NONE = "\u2013"  # an en dash: no value


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """`12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`; `in 4 min` for a future time."""
    if value is None:
        return NONE
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    later = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)} {unit}"
            break
    else:
        text = f"{int(seconds)} s"
    return f"in {text}" if later else f"{text} ago"


def seconds(value: float | None) -> str:
    """A duration for people: `35 ms`, `1.4 s`, `3 min`."""
    if value is None:
        return NONE
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.0f} min"


def when(value: datetime | None) -> str:
    """A UTC time as `2026-12-01 18:04:05 UTC`."""
    return NONE if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@cache
def environment() -> Environment:
    """The one Jinja environment (autoescaped; an undefined name is an error, not blank)."""
    env = Environment(
        loader=PackageLoader("beproduct_sync.web.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, seconds=seconds, when=when)
    return env


def page(
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A rendered template with the security headers, never cached."""
    body = environment().get_template(template).render({"insecure": False, **context})
    all_headers = {**SECURITY_HEADERS, "Cache-Control": "no-store", **(headers or {})}
    return Response(body, status, all_headers, media_type=HTML)


@cache
def asset(name: str) -> tuple[bytes, str] | None:
    """A file of `static/` and its media type; None for anything else (no paths, no dots)."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    found = resources.files("beproduct_sync.web.dashboard").joinpath("static", name)
    if not found.is_file():
        return None
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media.startswith("text/") or media.endswith("javascript"):
        media += "; charset=utf-8"
    return found.read_bytes(), media


def static(name: str) -> Response | None:
    """A static asset with long caching (the vendored names carry their versions)."""
    found = asset(name)
    if found is None:
        return None
    body, media = found
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(body, 200, headers, media_type=media)
