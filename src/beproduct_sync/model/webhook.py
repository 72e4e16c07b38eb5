"""Webhook body → typed tracking event. Pure: no I/O.

BeProduct's webhook JSON is PascalCase inside `data` and camelCase on the envelope, is not fully
documented, and grows fields over time. Models here therefore ignore unknown fields, default every
optional one, and keep the raw dicts so nothing the sender said is lost.

Reading is tolerant per entry: a `Timelines`, `AssignedTo` or `ShareWith` entry that is not an
object (null, a string, a number, a list), or a milestone without a readable `Id`, is skipped
with a `Skipped` note naming its JSON path (it becomes a warning in ops.import_errors), and the
rest of the event is applied. Only what an event cannot be applied without at all makes it
malformed: a readable `date`, `data.planId` and the record's `Id`. The side of `data` an event
does not apply (an OnChange's `before`, the history of the change) is not read at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from beproduct_sync.errors import MalformedEvent, NotATrackingEvent
from beproduct_sync.model import coerce
from beproduct_sync.model.times import SourceTime, lenient_time, parse_time


class EventType(StrEnum):
    """The `eventType` of a tracking webhook."""

    ON_CREATE = "OnCreate"
    ON_CHANGE = "OnChange"
    ON_DELETE = "OnDelete"


EVENT_TYPES = frozenset(EventType)


def event_type_label(value: Any) -> str:
    """A metric label for an event type; anything a sender made up becomes 'other'."""
    return value if isinstance(value, str) and value in EVENT_TYPES else "other"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Person(_Model):
    """An `AssignedTo` / `ShareWith` entry: `value` is the user name, `code` the user id."""

    value: str | None = None
    code: str | None = None

    _texts = field_validator("value", "code", mode="before")(coerce.text)


class Milestone(_Model):
    """One milestone instance of a style in a plan (`Timelines[]` / `TimeLineItem`)."""

    id: UUID = Field(alias="Id")
    timeline_id: UUID | None = Field(default=None, alias="TimeLineId")
    status: str | None = Field(default=None, alias="Status")
    rev: SourceTime | None = Field(default=None, alias="Rev")
    final: SourceTime | None = Field(default=None, alias="Final")
    due: SourceTime | None = Field(default=None, alias="DueDate")
    project: SourceTime | None = Field(default=None, alias="ProjectDate")
    assigned_to: list[Person] = Field(default_factory=list, alias="AssignedTo")
    share_with: list[Any] = Field(default_factory=list, alias="ShareWith")
    late: bool | None = Field(default=None, alias="Late")
    submits_quantity: int | None = Field(default=None, alias="SubmitsQuantity")
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    _times = field_validator("rev", "final", "due", "project", mode="before")(lenient_time)
    _ids = field_validator("timeline_id", mode="before")(coerce.as_uuid)
    _flags = field_validator("late", mode="before")(coerce.flag)
    _counts = field_validator("submits_quantity", mode="before")(coerce.int32)
    _texts = field_validator("status", mode="before")(coerce.text)

    @field_validator("assigned_to", "share_with", mode="before")
    @classmethod
    def _null_list(cls, value: object) -> object:
        return [] if value is None else value


class Record(_Model):
    """A style-in-plan (or material-in-plan) record: `data.after` / `data.before`."""

    id: UUID = Field(alias="Id")
    plan_id: UUID | None = Field(default=None, alias="PlanId")
    company_id: UUID | None = Field(default=None, alias="CompanyId")
    master_folder: str | None = Field(default=None, alias="MasterFolder")
    header_id: UUID | None = Field(default=None, alias="HeaderId")
    color: dict[str, Any] | None = Field(default=None, alias="Color")
    size: str | None = Field(default=None, alias="Size")
    supplier: list[Any] = Field(default_factory=list, alias="Supplier")
    modified_at: SourceTime | None = Field(default=None, alias="ModifiedAt")
    modified_by: dict[str, Any] | None = Field(default=None, alias="ModifiedBy")
    timelines: list[Milestone] | None = Field(default=None, alias="Timelines")
    timeline_item: Milestone | None = Field(default=None, alias="TimeLineItem")
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    _times = field_validator("modified_at", mode="before")(lenient_time)
    _ids = field_validator("plan_id", "company_id", "header_id", mode="before")(coerce.as_uuid)
    _texts = field_validator("size", "master_folder", mode="before")(coerce.text)

    @field_validator("color", "modified_by", mode="before")
    @classmethod
    def _object_or_none(cls, value: object) -> object:
        return value if isinstance(value, dict) else None

    @field_validator("supplier", mode="before")
    @classmethod
    def _null_list(cls, value: object) -> object:
        if value is None:
            return []
        return value if isinstance(value, list) else [value]


class TimelineSchema(_Model):
    """`data.timeLineSchema`: the plan's milestone definition (OnChange only)."""

    id: UUID = Field(alias="Id")
    department: str | None = Field(default=None, alias="Department")
    task_description: str | None = Field(default=None, alias="TaskDescription")
    short_description: str | None = Field(default=None, alias="ShortDescription")
    page: str | None = Field(default=None, alias="Page")
    # The schedule rule: `days` `direction` (`When`: AFTER/BEFORE) the definition `act_desc`
    # names (the nil uuid: the start of the row's schedule), counted in `calendar` days
    # ("DAYS", or business days such as "US Business Days"). The rest is stored as sent.
    days: int | None = Field(default=None, alias="Days")
    direction: str | None = Field(default=None, alias="When")
    act_desc: UUID | None = Field(default=None, alias="ActDesc")
    calendar: str | None = Field(default=None, alias="Calendar")
    calendar_days: int | None = Field(default=None, alias="CalendarDays")
    revised_days: int | None = Field(default=None, alias="RevisedDays")
    group_task: str | None = Field(default=None, alias="GroupTask")
    share_when: str | None = Field(default=None, alias="ShareWhen")
    default_status: str | None = Field(default=None, alias="DefaultStatus")
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    _ints = field_validator("days", "calendar_days", "revised_days", mode="before")(coerce.int32)
    _act = field_validator("act_desc", mode="before")(coerce.as_uuid)
    _rule_texts = field_validator(
        "direction", "calendar", "group_task", "share_when", "default_status", mode="before"
    )(coerce.text)

    @property
    def has_rule(self) -> bool:
        """Whether the schema carried a schedule rule at all (an anchor or a day count)."""
        return "ActDesc" in self.raw or "Days" in self.raw

    @field_validator("page", mode="before")
    @classmethod
    def _page_text(cls, value: object) -> object:
        # Seen as null; the REST API has a richer page object. Keep a readable name either way.
        if isinstance(value, dict):
            return value.get("name") or value.get("Name") or value.get("title")
        return value


@dataclass(frozen=True)
class Skipped:
    """An entry read past: where it was (`path`), whose it was, and why."""

    path: str
    entity_id: str
    reason: str

    @property
    def message(self) -> str:
        """The warning for ops.import_errors."""
        return f"{self.path}: {self.reason}; skipped, the rest of the event applied"


class TrackingEvent(_Model):
    """A parsed BeProduct tracking webhook."""

    event_type: EventType
    date: SourceTime
    plan_id: UUID
    plan_folder_id: UUID | None
    record_id: UUID
    header_id: UUID | None
    header_number: str | None
    header_name: str | None
    folder_id: UUID | None
    folder_name: str | None
    user_id: str | None
    user_name: str | None
    before: Record | None  # read for an OnDelete only (see parse_event)
    after: Record | None  # read for an OnCreate or OnChange only
    schema_: TimelineSchema | None = Field(default=None, alias="schema")
    skipped: tuple[Skipped, ...] = ()

    @property
    def record(self) -> Record | None:
        """The state the event leaves behind: `after`, or `before` for a delete."""
        return self.before if self.event_type == EventType.ON_DELETE else self.after

    @property
    def master_folder(self) -> str:
        """'Style' or 'Material' (the record's MasterFolder; styles when unsaid)."""
        rec = self.record or self.after or self.before
        return (rec.master_folder if rec and rec.master_folder else "Style").strip()


def _with_raw(model: type[_Model], raw: Any, where: str) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedEvent(f"{where} must be an object")
    return model.model_validate({**raw, "raw": raw})


def _shape(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _objects(value: Any, path: str, owner: str, notes: list[Skipped]) -> list[Any]:
    """The object entries of a list field; anything else is noted and left out."""
    if value is None:
        return []
    if isinstance(value, dict):  # one entry sent without its list: still readable
        return [value]
    if not isinstance(value, list):
        notes.append(Skipped(path, owner, f"expected a list, got {_shape(value)}"))
        return []
    kept = []
    for i, entry in enumerate(value):
        if isinstance(entry, dict):
            kept.append(entry)
        else:
            notes.append(Skipped(f"{path}[{i}]", owner, f"expected an object, got {_shape(entry)}"))
    return kept


def _milestone(raw: Any, path: str, owner: str, notes: list[Skipped]) -> dict[str, Any] | None:
    """A milestone entry ready for the model (its lists cleaned), or None if unreadable."""
    if not isinstance(raw, dict):
        notes.append(Skipped(path, owner, f"expected an object, got {_shape(raw)}"))
        return None
    mid = coerce.as_uuid(raw.get("Id"))
    if mid is None:
        notes.append(Skipped(path, owner, "no readable milestone Id"))
        return None
    fields = {**raw, "raw": raw}
    for name in ("AssignedTo", "ShareWith"):
        if name in raw:
            fields[name] = _objects(raw[name], f"{path}.{name}", coerce.uuid_str(mid), notes)
    return fields


def _record(raw: Any, where: str, notes: list[Skipped]) -> Record | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedEvent(f"{where} must be an object")
    owner = coerce.uuid_text(raw.get("Id")) or ""
    fields: dict[str, Any] = {**raw, "raw": raw}
    if "Timelines" in raw:
        entries = raw["Timelines"]
        if entries is not None and not isinstance(entries, list):
            notes.append(
                Skipped(f"{where}.Timelines", owner, f"expected a list, got {_shape(entries)}")
            )
            entries = None
        if entries is not None:
            read = (
                _milestone(m, f"{where}.Timelines[{i}]", owner, notes)
                for i, m in enumerate(entries)
            )
            entries = [m for m in read if m is not None]
        fields["Timelines"] = entries
    if raw.get("TimeLineItem") is not None:
        fields["TimeLineItem"] = _milestone(
            raw["TimeLineItem"], f"{where}.TimeLineItem", owner, notes
        )
    return Record.model_validate(fields)


def _describe(exc: ValidationError, prefix: str) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in (prefix, *first["loc"]) if p != "raw")
    return f"{loc}: {first['msg']}"


def _shown(value: Any) -> str:
    """A short readable rendering of a value a sender got wrong (never a whole object)."""
    if isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"of type {type(value).__name__}"


def parse_event(body: Any) -> TrackingEvent:
    """Parse a decoded webhook body.

    Raises NotATrackingEvent for well-formed bodies of other kinds (to be recorded as ignored)
    and MalformedEvent for tracking events missing what we need (recorded as failed).
    """
    if not isinstance(body, dict):
        raise NotATrackingEvent("body is not a JSON object")
    event_type = body.get("eventType")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise NotATrackingEvent(
            f"eventType {_shown(event_type)} is not OnCreate, OnChange or OnDelete"
        )
    data = body.get("data")
    if not isinstance(data, dict) or not data.get("planId"):
        raise NotATrackingEvent(
            "no data.planId: not a tracking event (e.g. a style or material attribute change)"
        )
    where = "data"
    try:
        date = parse_time(body.get("date"))
        if date is None:
            raise MalformedEvent("date is missing: the event's source time is required")
        date.datetime  # noqa: B018 - raises for a date outside years 1 to 9999
        # Only the side the event applies is read: the other is history (an OnChange's
        # `before`) or null, kept in the stored payload. Reading it cost an OnChange half its
        # parsing time, and an odd entry there cannot matter to what the event writes.
        notes: list[Skipped] = []
        deleting = event_type == EventType.ON_DELETE
        before = _record(data.get("before"), "data.before", notes) if deleting else None
        after = None if deleting else _record(data.get("after"), "data.after", notes)
        where = "data.timeLineSchema"
        try:
            schema = _with_raw(TimelineSchema, data.get("timeLineSchema"), where)
        except (ValidationError, MalformedEvent):
            schema = None  # an unreadable definition is optional: enrichment fetches it
    except ValidationError as exc:
        raise MalformedEvent(_describe(exc, where)) from None
    except ValueError as exc:
        raise MalformedEvent(str(exc)) from None

    record = before if event_type == EventType.ON_DELETE else after
    if record is None:
        side = "before" if event_type == EventType.ON_DELETE else "after"
        raise MalformedEvent(f"{event_type} without data.{side}")
    user: dict[str, Any] = body["user"] if isinstance(body.get("user"), dict) else {}
    try:
        return TrackingEvent.model_validate(
            {
                "event_type": event_type,
                "date": date,
                "plan_id": data.get("planId"),
                "plan_folder_id": coerce.as_uuid(data.get("planFolderId")),
                "record_id": record.id,
                "header_id": coerce.as_uuid(body.get("headerId")) or record.header_id,
                "header_number": coerce.text(body.get("headerNumber")),
                "header_name": coerce.text(body.get("headerName")),
                "folder_id": coerce.as_uuid(body.get("folderId")),
                "folder_name": coerce.text(body.get("folderName")),
                "user_id": coerce.text(user.get("id")),
                "user_name": coerce.text(user.get("userName")),
                "before": before,
                "after": after,
                "schema": schema,
                "skipped": tuple(notes),
            }
        )
    except ValidationError as exc:
        raise MalformedEvent(_describe(exc, "")) from None
