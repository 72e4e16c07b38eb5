"""Every failure of the read API as the one small JSON shape `{"error", "message"}`.

FastAPI's own validation answer lists the inputs it got and its internals' locations; ours
names the parameter and what is wrong with it, nothing more.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response

from beproduct_sync.web.responses import HANDLERS as WEB_HANDLERS
from beproduct_sync.web.responses import error


class NotFound(Exception):
    """An id the read model does not know: 404 `not_found`."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


async def on_invalid(request: Request, exc: Exception) -> Response:
    """422 `invalid_request`: the first offending parameter and why, without the input."""
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if not problems:
        return error(422, "invalid_request", "the request is not valid")
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "path"))
    reason = str(first.get("msg", "is not valid"))[:200]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return error(422, "invalid_request", f"{where or 'request'}: {reason}{more}")


async def on_not_found(request: Request, exc: Exception) -> Response:
    """404 `not_found` naming what was not found."""
    assert isinstance(exc, NotFound)
    return error(404, "not_found", f"no such {exc.what}")


HANDLERS: dict[Any, Any] = {
    **WEB_HANDLERS,
    RequestValidationError: on_invalid,
    NotFound: on_not_found,
}
