"""The routers of `/api/v1`, in the order they are included.

To add a resource, write a module here exposing `router` (an `APIRouter` whose routes depend on
`deps.Reader` or `deps.Writer`) and list it below: nothing else needs to change.
"""

from __future__ import annotations

from fastapi import APIRouter

from beproduct_sync.web.api_v1.routers import plans, timeline, timeline_changes, users

ROUTERS: tuple[APIRouter, ...] = (
    plans.router,
    timeline.router,
    timeline_changes.router,
    users.router,
)
