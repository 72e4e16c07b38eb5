"""The `/api/v1` app factory: plain arguments in (access guard, pool), a FastAPI app out."""

from __future__ import annotations

from fastapi import FastAPI

from beproduct_sync import __version__
from beproduct_sync.web.access import AccessGuard
from beproduct_sync.web.api_v1.deps import Pool, State
from beproduct_sync.web.api_v1.errors import HANDLERS
from beproduct_sync.web.api_v1.routers import ROUTERS

API_PREFIX = "/api/v1"


def create_api(access: AccessGuard, pool: Pool | None = None) -> FastAPI:
    """The read API. Mounted under `API_PREFIX` by `web.app.create_app`, whose lifespan hands
    it the receiver's pool (`bind_pool`); a given `pool` is used as is."""
    api = FastAPI(
        title="beproduct-sync read API",
        version=__version__,
        summary="Plans, milestones, progress, workload and critical paths from the synced data.",
        openapi_url="/openapi.json",
        docs_url=None,  # no pages that load scripts from a CDN; the document is enough
        redoc_url=None,
        exception_handlers=HANDLERS,
    )
    api.state.api = State(access=access, pool=pool)
    for router in ROUTERS:
        api.include_router(router)
    return api


def bind_pool(api: FastAPI, pool: Pool) -> None:
    """Give the app the database pool (the enclosing app's lifespan owns it)."""
    api.state.api.pool = pool
