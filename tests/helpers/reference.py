"""An independent reference model of what the ops tables must hold after a set of events.

Plain Python: it shares no code with `beproduct_sync.model` or the SQL, so a mistake there
cannot hide by being made twice. It knows each event only through `Sent`: what was sent (the
webhook body or API row, used for nothing but the hash tie-break) and the column values the
event stands for, written down by the generator that built it (tests/helpers/histories.py).

The rules, stated once, as the README and schema contract describe them:
- A version is the event's source time in 100-ns ticks, times 10^6, plus a tie-break: the first
  4 bytes of the SHA-256 of the body's canonical JSON (sorted keys, no spaces), modulo 10^6.
- Per row and field group, the event with the highest version wins, whatever the order:
  a style (or material) row has a header group (every event), a record group (modified
  time and user, and the raw record: creates, deletes, API rows), a colour, a size and a
  supplier group (the same events, plus an OnChange that carries the field: a row edit) and a
  lifecycle group (`active`, `deleted_at`: creates, deletes, API rows and reconcile's
  retirements); a milestone row is one group and its assignment set is that of the winning
  version; a milestone definition is one group (an OnChange's timeLineSchema).
- A header field the winning event lacks keeps the value another event gave it; a row no
  event filled a group of keeps that group empty (a style first seen through an OnChange is
  active until a create, delete or API row says otherwise).
- `source_updated_at` of a style row is the latest source time of any event about it.
- An event is `applied` when, at the moment it is applied, it wins at least one group or
  gives a style row a header field no event had given it yet; else `stale`. An equal version
  is not newer.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TICKS_PER_SECOND = 10_000_000
# Reconcile versions a retirement with no tie-break (32 zero bytes): exactly its tick.
RETIRE_TIE = 0
MASTER_FOLDER = {"style": "Style", "material": "Material"}
RECORD_TABLE = {"style": "tracking_plan_style", "material": "tracking_plan_material"}
TIMELINE_TABLE = {
    "style": "tracking_plan_style_timeline",
    "material": "tracking_plan_material_timeline",
}
ASSIGNMENT_TABLE = {
    "style": "tracking_timeline_assignment",
    "material": "tracking_material_timeline_assignment",
}
HEADER_FIELDS = (
    "company_id",
    "style_header_id",
    "style_number",
    "style_name",
    "header_folder_id",
    "header_folder_name",
)
MILESTONE_FIELDS = (
    "template_item_id",
    "status",
    "status_label",
    "plan_date",
    "due_date",
    "rev_date",
    "final_date",
    "plan_at",
    "due_at",
    "rev_at",
    "final_at",
    "late",
    "submits_quantity",
    "shared_with",
    "assigned_to",
    "raw_payload",
)
# The record's field groups, each versioned on its own, and the columns of each.
RECORD_GROUPS = {
    "record": ("modified_at", "modified_by"),
    "color": ("color_id", "color_name", "color_number"),
    "size": ("size",),
    "supplier": ("supplier_name", "suppliers"),
}
DEFINITION_FIELDS = ("name", "short_name", "department", "page_name", "raw_payload")

Table = dict[str, dict[str, Any]]


def instant(ticks: int) -> datetime:
    """The instant of `ticks` as Postgres keeps it (microseconds, the 7th digit cut off)."""
    return EPOCH + timedelta(microseconds=ticks // 10)


def utc_day(ticks: int) -> date:
    """The UTC calendar day of `ticks`."""
    return instant(ticks).date()


def tie_break(body: Any) -> int:
    """6 digits of the SHA-256 of the body's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 1_000_000


@dataclass(frozen=True)
class MilestoneFacts:
    """A milestone instance as one event states it: its columns and assignees (id → name)."""

    id: str
    columns: dict[str, Any]
    assignees: dict[str, str | None]


@dataclass(frozen=True)
class DefinitionFacts:
    """A milestone definition as an OnChange's timeLineSchema states it."""

    id: str
    columns: dict[str, Any]


@dataclass(frozen=True, eq=False)
class Sent:
    """One thing written to the system and what it stands for.

    `source` is "webhook", "backfill" or "reconcile" (API rows) or "retire" (reconcile's
    soft delete of a row BeProduct no longer has). `payload` is the webhook body or API row.
    Groups the event does not carry are None; `record` holds the columns of the record groups
    (RECORD_GROUPS) it carries, all of them or, for a row edit, some.
    """

    source: str
    kind: str
    payload: dict[str, Any]
    ticks: int
    tie: int
    plan_id: str
    folder_id: str | None
    record_id: str
    header: dict[str, Any] | None
    record: dict[str, Any] | None
    raw: Any
    lifecycle: tuple[bool, datetime | None] | None
    milestones: tuple[MilestoneFacts, ...] = ()
    templates: tuple[str, ...] = ()
    definition: DefinitionFacts | None = None
    notices: tuple[str, ...] = ()  # entity ids of the warnings it adds (one per warning)

    @property
    def version(self) -> int:
        """Its source version."""
        return self.ticks * 1_000_000 + self.tie

    @property
    def at(self) -> datetime:
        """Its source time, as Postgres keeps it."""
        return instant(self.ticks)

    def record_groups(self) -> list[str]:
        """The record groups (RECORD_GROUPS) it carries."""
        carried = self.record or {}
        return [g for g, names in RECORD_GROUPS.items() if all(n in carried for n in names)]

    def groups(self) -> list[tuple[tuple[str, ...], int]]:
        """The versioned groups it writes."""
        rec = (self.kind, self.record_id)
        out: list[tuple[tuple[str, ...], int]] = []
        if self.header is not None:
            out.append((("header", *rec), self.version))
        out.extend(((group, *rec), self.version) for group in self.record_groups())
        if self.lifecycle is not None:
            out.append((("lifecycle", *rec), self.version))
        out.extend(((self.kind, "milestone", m.id), self.version) for m in self.milestones)
        if self.definition is not None:
            out.append((("definition", self.definition.id), self.version))
        return out


def _newest(events: list[Sent]) -> Sent | None:
    return max(events, key=lambda s: s.version, default=None)


@dataclass
class Reference:
    """The expected database: feed it what was applied, in the order applied."""

    applied: list[Sent] = field(default_factory=list)
    _best: dict[tuple[str, ...], int] = field(default_factory=dict)
    _filled: set[tuple[str, str, str]] = field(default_factory=set)

    def apply(self, sent: Sent) -> bool:
        """Record that `sent` was applied; whether it changed anything (applied, not stale)."""
        won = False
        for group, version in sent.groups():
            if version > self._best.get(group, -1):
                self._best[group] = version
                won = True
        for name, value in (sent.header or {}).items():
            gap = (sent.kind, sent.record_id, name)
            if value is not None and gap not in self._filled:
                self._filled.add(gap)
                won = True
        self.applied.append(sent)
        return won

    def tables(self) -> dict[str, Table]:
        """Every ops table's expected content, by row key."""
        out: dict[str, Table] = {
            "tracking_folder": {},
            "tracking_plan": {},
            "tracking_timeline_template_item": {},
        }
        for kind in MASTER_FOLDER:
            out[RECORD_TABLE[kind]] = {}
            out[TIMELINE_TABLE[kind]] = {}
            out[ASSIGNMENT_TABLE[kind]] = {}
        for s in self.applied:
            if s.folder_id is not None:
                out["tracking_folder"][s.folder_id] = {}
            plan = out["tracking_plan"].setdefault(s.plan_id, {"folder_id": None})
            plan["folder_id"] = plan["folder_id"] or s.folder_id
        self._templates(out["tracking_timeline_template_item"])
        by_record: dict[tuple[str, str], list[Sent]] = defaultdict(list)
        by_milestone: dict[tuple[str, str], list[tuple[Sent, MilestoneFacts]]] = defaultdict(list)
        for s in self.applied:
            by_record[(s.kind, s.record_id)].append(s)
            for m in s.milestones:
                by_milestone[(s.kind, m.id)].append((s, m))
        for (kind, rid), events in by_record.items():
            out[RECORD_TABLE[kind]][rid] = self._record(events)
        for (kind, mid), pairs in by_milestone.items():
            sent, facts = max(pairs, key=lambda p: p[0].version)
            out[TIMELINE_TABLE[kind]][mid] = {
                **facts.columns,
                "parent_id": sent.record_id,
                "source_updated_at": sent.at,
                "source_version": sent.version,
            }
            for uid, name in facts.assignees.items():
                out[ASSIGNMENT_TABLE[kind]][f"{mid}/{uid}"] = {"assignee_name": name}
        return out

    def _templates(self, table: Table) -> None:
        definitions: dict[str, list[tuple[Sent, DefinitionFacts]]] = defaultdict(list)
        for s in self.applied:
            for tid in s.templates:
                table.setdefault(
                    tid,
                    {
                        "plan_id": s.plan_id,
                        "master_folder": MASTER_FOLDER[s.kind],
                        **dict.fromkeys(DEFINITION_FIELDS),
                        "source_version": None,
                    },
                )
            if s.definition is not None:
                definitions[s.definition.id].append((s, s.definition))
        for tid, pairs in definitions.items():
            sent, facts = max(pairs, key=lambda p: p[0].version)
            table[tid] = {
                "plan_id": sent.plan_id,
                "master_folder": facts.columns.get("master_folder", MASTER_FOLDER[sent.kind]),
                **{k: facts.columns[k] for k in DEFINITION_FIELDS},
                "source_version": sent.version,
            }

    @staticmethod
    def _record(events: list[Sent]) -> dict[str, Any]:
        headers = [s for s in events if s.header is not None]
        lifecycles = [s for s in events if s.lifecycle is not None]
        winners = {
            group: _newest([s for s in events if group in s.record_groups()])
            for group in RECORD_GROUPS
        }
        head, rec, life = _newest(headers), winners["record"], _newest(lifecycles)
        row: dict[str, Any] = {"plan_id": (head or events[0]).plan_id}
        for name in HEADER_FIELDS:
            value = head.header[name] if head is not None and head.header is not None else None
            if value is None:
                # Lacking in the winner: any other event's value. The generator keeps such
                # fields constant per row, so "any" is well defined; check that it did.
                known = {s.header[name] for s in headers if s.header and s.header[name] is not None}
                assert len(known) <= 1, f"{name} differs between events that carry it: {known}"
                value = next(iter(known), None)
            row[name] = value
        for group, names in RECORD_GROUPS.items():
            won = winners[group]
            for name in names:
                row[name] = won.record[name] if won is not None and won.record else None
        row["raw_payload"] = rec.raw if rec is not None else (head.raw if head else None)
        row["active"], row["deleted_at"] = (
            life.lifecycle if life is not None and life.lifecycle else (True, None)
        )
        row["source_updated_at"] = max(s.at for s in events)
        row["header_version"] = head.version if head else None
        for group, won in winners.items():
            row[f"{group}_version"] = won.version if won else None
        row["lifecycle_version"] = life.version if life else None
        return row


def differences(expected: dict[str, Table], actual: dict[str, Table]) -> list[str]:
    """Readable differences between two sets of tables (empty when equal)."""
    out: list[str] = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table, {}), actual.get(table, {})
        for key in sorted(set(want) - set(got)):
            out.append(f"{table} {key}: missing")
        for key in sorted(set(got) - set(want)):
            out.append(f"{table} {key}: unexpected row {got[key]}")
        for key in sorted(set(want) & set(got)):
            for col in sorted(set(want[key]) | set(got[key])):
                a, b = want[key].get(col), got[key].get(col)
                if a != b:
                    out.append(f"{table} {key}.{col}: expected {a!r}, found {b!r}")
    return out
