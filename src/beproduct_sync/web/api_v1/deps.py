"""FastAPI dependencies every router shares: who the caller is, and a database connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from beproduct_sync.errors import DatabaseUnavailable
from beproduct_sync.web.access import AccessGuard, Role

Pool = AsyncConnectionPool[Any]

# auto_error=False: a missing or malformed header is answered by AccessGuard (401, our shape);
# the scheme still documents bearer authentication in the OpenAPI document.
_bearer = HTTPBearer(auto_error=False, description="An API token (BEPRODUCT_SYNC_API_TOKENS).")


@dataclass
class State:
    """What the routes share: the token guard and the pool (bound by the lifespan)."""

    access: AccessGuard
    pool: Pool | None = None


def state(request: Request) -> State:
    """The API's shared state."""
    found: State = request.app.state.api
    return found


def require(role: Role) -> Callable[..., Awaitable[Role]]:
    """A dependency that admits callers holding `role` (401 without a token, 403 if too weak)."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Role:
        header = f"Bearer {credentials.credentials}" if credentials else None
        return state(request).access.require(header, role)

    return check


async def connection(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection for one request (503 when the pool is not bound or exhausted)."""
    pool = state(request).pool
    if pool is None:
        raise DatabaseUnavailable("the API has no database pool")
    async with pool.connection() as conn:
        yield conn


Reader = Annotated[Role, Depends(require(Role.READ))]
Writer = Annotated[Role, Depends(require(Role.WRITE))]
Connection = Annotated[AsyncConnection[Any], Depends(connection)]
