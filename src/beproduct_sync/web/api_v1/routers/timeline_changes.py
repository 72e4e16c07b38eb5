"""Milestone changes (reverse sync): `PATCH /tracking/timeline/node/{id}` and `…/bulk`.

Write tokens only (a read token gets 403). Each change is recorded as a change request through
`ops_api.request_timeline_change` and answered 202 at once; the workers send it to BeProduct
(see api.outbox). `Idempotency-Key` makes a retried call record nothing new: the same key and
change answer 200 with the request recorded first; the same key with another change is 409.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from beproduct_sync.api.change_requests import CHANGE_FIELDS, request_change
from beproduct_sync.errors import ChangeRequestError, IdempotencyKeyReused, UnknownMilestone
from beproduct_sync.web.api_v1.deps import Connection, Writer
from beproduct_sync.web.responses import error, json_reply

router = APIRouter(prefix="/tracking/timeline", tags=["reverse sync"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=150,
        description="The client's key: a retried call with the same key and change records"
        " nothing new. Without it every call records a new request.",
    ),
]
MAX_BULK = 500


class Base(BaseModel):
    """What the caller saw (compared before sending; a difference made in BeProduct since is
    a conflict)."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    rev_date: dt.date | None = None
    final_date: dt.date | None = None
    source_version: str | None = None


class Change(BaseModel):
    """A milestone change: only the fields given are changed (a date given as null clears it)."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(None, description="e.g. approved, in_progress, na")
    rev_date: dt.date | None = None
    final_date: dt.date | None = None
    assignees_add: list[uuid.UUID] | None = None
    assignees_remove: list[uuid.UUID] | None = None
    share_add: list[uuid.UUID] | None = None
    share_remove: list[uuid.UUID] | None = None
    base: Base | None = None
    force: bool = False

    def change(self) -> dict[str, Any]:
        """The fields given, as the SQL function takes them."""
        out: dict[str, Any] = {}
        for name in CHANGE_FIELDS:
            if name not in self.model_fields_set:
                continue
            value = getattr(self, name)
            if isinstance(value, list):
                out[name] = [str(v) for v in value]
            elif isinstance(value, dt.date):
                out[name] = value.isoformat()
            else:
                out[name] = value
        return out

    def base_json(self) -> dict[str, Any] | None:
        """The base as given (absent fields left out)."""
        if self.base is None:
            return None
        return self.base.model_dump(mode="json", exclude_unset=True)


class BulkUpdate(Change):
    """One update of a bulk call."""

    node_id: uuid.UUID
    idempotency_key: str | None = Field(
        None, max_length=150, description="This update's own key (default: the header's + index)"
    )


class Bulk(BaseModel):
    """`{"updates": [...]}`."""

    model_config = ConfigDict(extra="forbid")

    updates: list[BulkUpdate] = Field(min_length=1, max_length=MAX_BULK)


async def _record(
    conn: Any, node_id: str, body: Change, key: str, who: str | None
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for one change: 202 recorded, 200 already recorded, 4xx refused."""
    try:
        found = await request_change(
            conn,
            node_id,
            key,
            body.change(),
            base=body.base_json(),
            force=body.force,
            requested_by=who,
        )
    except UnknownMilestone as exc:
        return 404, {"error": "not_found", "message": str(exc)}
    except IdempotencyKeyReused as exc:
        return 409, {"error": "idempotency_key_reused", "message": str(exc)}
    except ChangeRequestError as exc:
        return 400, {"error": "invalid_change", "message": str(exc)}
    return (202 if found.get("created") else 200), {"request": _public(found)}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "id",
        "idempotency_key",
        "state",
        "milestone_id",
        "entity_type",
        "plan_id",
        "change",
        "base",
        "force",
        "requested_by",
        "requested_at",
        "created",
    )
    return {k: row.get(k) for k in keep}


@router.patch(
    "/node/{node_id}",
    summary="Change one milestone in BeProduct",
    status_code=202,
    responses={200: {"description": "already recorded under this Idempotency-Key"}},
)
async def change_node(
    node_id: uuid.UUID,
    body: Change,
    _: Writer,
    conn: Connection,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record a change request for one milestone; 202 with the request (state `pending`)."""
    key = idempotency_key or f"http-{uuid.uuid4()}"
    status, reply = await _record(conn, str(node_id), body, key, "http api")
    if status >= 400:
        return error(status, reply["error"], reply["message"])
    return json_reply(reply, status)


@router.patch("/bulk", summary="Change many milestones in BeProduct", status_code=207)
async def change_bulk(
    body: Bulk, _: Writer, conn: Connection, idempotency_key: IdempotencyKey = None
) -> Response:
    """Record one change request per update; 207 with a result per update, in order
    (`status` 202 recorded, 200 already recorded, 400 / 404 / 409 refused with the reason)."""
    prefix = idempotency_key or f"http-{uuid.uuid4()}"
    results = []
    for i, update in enumerate(body.updates):
        key = update.idempotency_key or f"{prefix}:{i}"
        status, reply = await _record(conn, str(update.node_id), update, key, "http api")
        results.append({"node_id": str(update.node_id), "status": status, **reply})
    return json_reply({"results": results}, 207)
