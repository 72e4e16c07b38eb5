"""BeProduct REST responses (Tracking/Plan/{id}, Tracking/Folders) → rows to upsert. Pure; no I/O.

The REST JSON is camelCase and not documented in full, so every field is optional here: a
missing or oddly shaped field becomes None and never fails the job. The raw response is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from beproduct_sync.inbox.log import canonical
from beproduct_sync.model.coerce import flag, uuid_text
from beproduct_sync.model.from_webhook import body_digest, source_version
from beproduct_sync.model.webhook import parse_time


def pick(obj: Any, *names: str) -> Any:
    """The first of `names` present (and not None) in a dict; None otherwise."""
    if not isinstance(obj, dict):
        return None
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    return None


def text(value: Any) -> str | None:
    """A non-empty string, or the `name` of an object such as `{"name": "Tech Pack"}`."""
    if isinstance(value, dict):
        value = pick(value, "name", "Name", "title", "value")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def calendar_date(value: Any, zone: tzinfo) -> str | None:
    """The calendar day (in `zone`) of a BeProduct timestamp or plain date; None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parse_time(value)
    except ValueError:
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return parsed.datetime.astimezone(zone).date().isoformat() if parsed else None


def api_version(payload: dict[str, Any]) -> str | None:
    """The source version of an API response: its `modifiedAt` (hash tie-break); None if unknown.

    Comparable with webhook versions (mapping.source_version), so a definition from a plan last
    modified before a webhook's timeLineSchema never overwrites the newer webhook text.
    """
    try:
        at = parse_time(pick(payload, "modifiedAt", "ModifiedAt"))
    except ValueError:
        return None
    return source_version(at, body_digest(canonical(payload))) if at else None


@dataclass(frozen=True)
class PlanRows:
    """What one Tracking/Plan/{id} response writes."""

    plan: dict[str, Any]
    templates: list[dict[str, Any]]


def _definitions(
    section: Any, plan_id: str, master: str, version: str | None
) -> list[dict[str, Any]]:
    entries = pick(section, "timelines", "Timelines")
    out = []
    for d in entries if isinstance(entries, list) else []:
        tid = uuid_text(pick(d, "id", "Id"))
        if tid is None:
            continue
        out.append(
            {
                "id": tid,
                "plan_id": plan_id,
                "master_folder": master,
                "name": text(
                    pick(d, "actionDescription", "taskDescription", "TaskDescription", "name")
                ),
                "short_name": text(pick(d, "shortDescription", "ShortDescription")),
                "department": text(pick(d, "department", "Department")),
                "page_name": text(pick(d, "pageName", "page", "Page")),
                "raw_payload": d,
                "source_version": version,
            }
        )
    return out


def plan_rows(payload: Any, plan_id: str, zone: tzinfo) -> PlanRows:
    """A Tracking/Plan/{id} response → the plan row and its milestone definitions."""
    body = payload if isinstance(payload, dict) else {}
    version = api_version(body)
    plan = {
        "id": plan_id,
        "folder_id": uuid_text(pick(body, "folderId", "FolderId", "folder_id")),
        "name": text(pick(body, "name", "Name")),
        "description": text(pick(body, "description", "Description")),
        "start_date": calendar_date(pick(body, "startDate", "StartDate"), zone),
        "end_date": calendar_date(pick(body, "endDate", "EndDate"), zone),
        "active": flag(pick(body, "active", "Active")),
        "raw_payload": payload,
    }
    defs: dict[str, dict[str, Any]] = {}
    for key, master in (("style", "Style"), ("material", "Material")):
        for d in _definitions(pick(body, key, key.title()), plan_id, master, version):
            defs.setdefault(d["id"], d)
    return PlanRows(plan, sorted(defs.values(), key=lambda d: d["id"]))


def _brand(folder: dict[str, Any]) -> str | None:
    return text(pick(folder, "brand", "Brand", "brandName", "BrandName", "company"))


def folder_rows(payload: Any) -> list[dict[str, Any]]:
    """A Tracking/Folders response (a bare array, or a page) → one row per readable folder."""
    items = payload if isinstance(payload, list) else pick(payload, "result", "items", "folders")
    rows: dict[str, dict[str, Any]] = {}
    for f in items if isinstance(items, list) else []:
        fid = uuid_text(pick(f, "id", "Id", "folderId"))
        if fid is None:
            continue
        rows[fid] = {
            "id": fid,
            "name": text(pick(f, "name", "Name", "folderName")),
            "brand": _brand(f),
            "active": flag(pick(f, "active", "Active")),
            "raw_payload": f,
        }
    return sorted(rows.values(), key=lambda r: r["id"])
