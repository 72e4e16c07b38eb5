"""The read API under `/api/v1`: FastAPI routers over the `ops_api` read model.

`create_api` builds the app that `web.app` mounts at `API_PREFIX`; routers are listed in
`routers.ROUTERS` (one module per resource), each guarded by `deps.require(Role...)`.
"""

from __future__ import annotations

from beproduct_sync.web.api_v1.app import API_PREFIX, create_api

__all__ = ["API_PREFIX", "create_api"]
