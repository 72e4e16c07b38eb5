"""BeProduct REST responses about the catalog (Tracking/Plan/{id}, Tracking/Folders) → rows. Pure.

The REST JSON is camelCase and not documented in full, so every field is optional here: a
missing or oddly shaped field becomes None and never fails the fetch. The raw response is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, TypedDict

from beproduct_sync.model.body import canonical, digest
from beproduct_sync.model.coerce import flag, int32, name_of, pick, text, uuid_text
from beproduct_sync.model.rows import KINDS, TemplateRow, master_folder, source_version
from beproduct_sync.model.times import date_of_text, lenient_time


class PlanDetailRow(TypedDict):
    """A plan's details from Tracking/Plan/{id} (enrich_plan.sql)."""

    id: str
    folder_id: str | None
    name: str | None
    description: str | None
    start_date: str | None
    end_date: str | None
    active: bool | None
    raw_payload: Any


class FolderRow(TypedDict):
    """A tracking folder from Tracking/Folders (enrich_folders.sql)."""

    id: str
    name: str | None
    brand: str | None
    active: bool | None
    raw_payload: Any


def api_version(payload: dict[str, Any]) -> str | None:
    """The source version of an API response: its `modifiedAt` (hash tie-break); None if unknown.

    Comparable with webhook versions (model.rows.source_version), so a definition from a plan
    last modified before a webhook's timeLineSchema never overwrites the newer webhook text.
    """
    at = lenient_time(pick(payload, "modifiedAt", "ModifiedAt"))
    return source_version(at, digest(canonical(payload))) if at else None


@dataclass(frozen=True)
class PlanRows:
    """What one Tracking/Plan/{id} response writes."""

    plan: PlanDetailRow
    templates: list[TemplateRow]


def _definitions(section: Any, plan_id: str, master: str, version: str | None) -> list[TemplateRow]:
    entries = pick(section, "timelines", "Timelines")
    out: list[TemplateRow] = []
    for d in entries if isinstance(entries, list) else []:
        tid = uuid_text(pick(d, "id", "Id"))
        if tid is None:
            continue
        name = pick(d, "actionDescription", "taskDescription", "TaskDescription", "name")
        row: TemplateRow = {
            "id": tid,
            "plan_id": plan_id,
            "master_folder": master,
            "name": name_of(name),
            "short_name": name_of(pick(d, "shortDescription", "ShortDescription")),
            "department": name_of(pick(d, "department", "Department")),
            "page_name": name_of(pick(d, "pageName", "page", "Page")),
            "raw_payload": d,
            "source_version": version,
        }
        _add_rule(row, d, version)
        out.append(row)
    return out


def _add_rule(row: TemplateRow, d: dict[str, Any], version: str | None) -> None:
    """Add the schedule rule of an API definition where it carries one (BeProduct documents
    only id, department, actionDescription, shortDescription and pageName): a rule counts
    only with its anchor (`actDesc`)."""
    if pick(d, "actDesc", "ActDesc") is None:
        return  # without its anchor a day count says nothing
    row["days"] = int32(pick(d, "days", "Days"))
    row["direction"] = text(pick(d, "when", "When"))
    row["act_desc"] = uuid_text(pick(d, "actDesc", "ActDesc"))
    row["calendar"] = text(pick(d, "calendar", "Calendar"))
    row["calendar_days"] = int32(pick(d, "calendarDays", "CalendarDays"))
    row["revised_days"] = int32(pick(d, "revisedDays", "RevisedDays"))
    row["group_task"] = text(pick(d, "groupTask", "GroupTask"))
    row["share_when"] = text(pick(d, "shareWhen", "ShareWhen"))
    row["default_status"] = text(pick(d, "defaultStatus", "DefaultStatus"))
    row["rule_version"] = version


def plan_rows(payload: Any, plan_id: str, zone: tzinfo) -> PlanRows:
    """A Tracking/Plan/{id} response → the plan row and its milestone definitions."""
    body = payload if isinstance(payload, dict) else {}
    version = api_version(body)
    plan: PlanDetailRow = {
        "id": plan_id,
        "folder_id": uuid_text(pick(body, "folderId", "FolderId", "folder_id")),
        "name": name_of(pick(body, "name", "Name")),
        "description": name_of(pick(body, "description", "Description")),
        "start_date": date_of_text(pick(body, "startDate", "StartDate"), zone),
        "end_date": date_of_text(pick(body, "endDate", "EndDate"), zone),
        "active": flag(pick(body, "active", "Active")),
        "raw_payload": payload,
    }
    defs: dict[str, TemplateRow] = {}
    for kind in KINDS:
        section = pick(body, kind, kind.title())
        for d in _definitions(section, plan_id, master_folder(kind), version):
            defs.setdefault(d["id"], d)
    return PlanRows(plan, sorted(defs.values(), key=lambda d: d["id"]))


def _brand(folder: dict[str, Any]) -> str | None:
    return name_of(pick(folder, "brand", "Brand", "brandName", "BrandName", "company"))


def folder_rows(payload: Any) -> list[FolderRow]:
    """A Tracking/Folders response (a bare array, or a page) → one row per readable folder."""
    items = payload if isinstance(payload, list) else pick(payload, "result", "items", "folders")
    rows: dict[str, FolderRow] = {}
    for f in items if isinstance(items, list) else []:
        fid = uuid_text(pick(f, "id", "Id", "folderId"))
        if fid is None:
            continue
        rows[fid] = {
            "id": fid,
            "name": name_of(pick(f, "name", "Name", "folderName")),
            "brand": _brand(f),
            "active": flag(pick(f, "active", "Active")),
            "raw_payload": f,
        }
    return sorted(rows.values(), key=lambda r: r["id"])
