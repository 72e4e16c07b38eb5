"""The fake's mutable state: seeded data plus the mutations tests and the Edit endpoint make.

The server thread reads and the test thread mutates, so every public method holds one lock.
Every mutation stamps the row with a fresh, strictly increasing `modifiedAt`.
"""

from __future__ import annotations

import copy
import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beproduct_sync.testing.fake.behaviour import Behaviour
from beproduct_sync.testing.fake.model import (
    TICKS_PER_DAY,
    Clock,
    Folder,
    Milestone,
    Plan,
    Row,
    User,
    to_ticks,
)
from beproduct_sync.testing.fake.seed import DONE, LOCAL_OFFSET, Seeder, Sizes

# Arguments left at ... keep the milestone's current value (None clears it).
Keep = Any
_NEXT_STATUS = {
    "Not Started": "In Progress",
    "In Progress": "Waiting On",
    "Waiting On": "Approved",
    "Rejected": "In Progress",
    "Approved with corrections": "Complete",
    "Approved": "Complete",
}


@dataclass(frozen=True)
class Change:
    """One milestone changed: copies of it before and after, and the row it belongs to."""

    row: Row
    before: Milestone
    after: Milestone
    at: int
    by: User


@dataclass(frozen=True)
class RowEdit:
    """A row's own fields changed (colourway, size or supplier, as BeProduct's Edit API can):
    copies of the row before and after, without a milestone change."""

    before: Row
    after: Row
    at: int
    by: User


@dataclass(frozen=True)
class Removal:
    """A row removed from its plan, with its last state."""

    row: Row
    at: int
    by: User


class World:
    """Folders, plans and rows generated from a seed, and changed in place afterwards."""

    def __init__(
        self,
        seed: int = 1,
        sizes: Sizes | None = None,
        clock: Clock | None = None,
        behaviour: Behaviour | None = None,
    ):
        self.seed = seed
        self.behaviour = behaviour or Behaviour()
        self.sizes = sizes or Sizes()
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self._seeder = Seeder(seed)
        self.users: list[User] = list(self._seeder.users)
        self.partners: list[User] = list(self._seeder.partners)
        self.company_id = self._seeder.company_id
        self.folders: dict[str, Folder] = {f.id: f for f in self._seeder.folders(self.sizes)}
        self.plans: dict[str, Plan] = {}
        for f in self.folders.values():
            for i in range(self.sizes.plans):
                p = self._seeder.plan(f, i, self.sizes)
                self.plans[p.id] = p
        self.removed: dict[str, Row] = {}

    @property
    def rng(self) -> random.Random:
        """The seeded generator every later random choice draws from (reproducible streams)."""
        return self._seeder.rng

    # -- reading -----------------------------------------------------------------------------
    def plan(self, plan_id: str) -> Plan:
        """The plan with this id (KeyError if none)."""
        return self.plans[plan_id.lower()]

    def row(self, row_id: str) -> Row:
        """A live style or material row by id (KeyError if none or removed)."""
        with self.lock:
            for p in self.plans.values():
                found = p.styles.get(row_id) or p.materials.get(row_id)
                if found is not None:
                    return found
        raise KeyError(row_id)

    def rows(self, kind: str = "Style") -> list[Row]:
        """Every live row of a kind, plan by plan, in order."""
        with self.lock:
            return [r for p in self.plans.values() for r in p.rows(kind).values()]

    def user(self, who: User | str | None) -> User:
        """A user by object, id or name; an unknown name becomes a new user."""
        if isinstance(who, User):
            return who
        if who is None:
            return self.users[0]
        for u in self.users:
            if who in (u.id, u.name):
                return u
        made = User(str(uuid.uuid5(uuid.NAMESPACE_URL, f"beproduct-fake-user:{who}")), who)
        self.users.append(made)
        return made

    def partner(self, who: User | str) -> User:
        """A partner (share target) by object, id or name; an unknown name becomes a new one."""
        if isinstance(who, User):
            return who
        for p in self.partners:
            if who in (p.id, p.name):
                return p
        made = User(str(uuid.uuid5(uuid.NAMESPACE_URL, f"beproduct-fake:{who}")), who, "Supplier")
        self.partners.append(made)
        return made

    # -- mutating ----------------------------------------------------------------------------
    def change_milestone(
        self,
        row_id: str,
        milestone_id: str | None = None,
        *,
        status: str | None = None,
        rev: Keep = ...,
        final: Keep = ...,
        due: Keep = ...,
        late: bool | None = None,
        assigned_to: Sequence[User | str] | None = None,
        share_with: Sequence[User | str] | None = None,
        submits_quantity: int | None = None,
        by: User | str | None = None,
    ) -> Change:
        """Change one milestone (the first when no id is given); times as ticks or ISO text."""
        with self.lock:
            row = self.row(row_id)
            m = row.milestone(milestone_id) if milestone_id else row.milestones[0]
            before = copy.deepcopy(m)
            if status is not None:
                m.status = status
            for name, value in (("rev", rev), ("final", final), ("due", due)):
                if value is not ...:
                    setattr(m, name, to_ticks(value) if isinstance(value, str) else value)
            if late is not None:
                m.late = late
            if submits_quantity is not None:
                m.submits_quantity = submits_quantity
            if assigned_to is not None:
                m.assigned_to = [self.user(u) for u in assigned_to]
            if share_with is not None:
                m.share_with = [self.partner(u) for u in share_with]
            return Change(row, before, copy.deepcopy(m), *self._touch(row, by))

    def advance(self, row_id: str | None = None) -> Change:
        """Move a (seeded-randomly chosen) milestone one step along its usual lifecycle."""
        with self.lock:
            rng = self._seeder.rng
            row = self.row(row_id) if row_id else rng.choice(self.rows())
            m = rng.choice(row.milestones)
            nxt = _NEXT_STATUS.get(m.status, "In Progress")
            at = self.clock.now()
            # Completing stamps the local wall-clock time labelled Z; a date picked in the
            # editor arrives as midnight Z.
            final = at + LOCAL_OFFSET if nxt in DONE else None
            moved = (m.due or at) + 7 * TICKS_PER_DAY
            return self.change_milestone(
                row.id,
                m.id,
                status=nxt,
                final=final,
                rev=m.rev if rng.random() < 0.8 else moved - moved % TICKS_PER_DAY,
                assigned_to=rng.sample(self.users, rng.choice((0, 1, 1, 2))),
                late=False if nxt in DONE else m.late,
                by=rng.choice(self.users),
            )

    def remove_row(self, row_id: str, by: User | str | None = None) -> Removal:
        """Take a style/material out of its plan (the webhook's OnDelete)."""
        with self.lock:
            row = self.row(row_id)
            plan = self.plan(row.plan_id)
            del plan.rows(row.kind)[row.id]
            self.removed[row.id] = row
            at, who = self._touch(row, by)
            plan.modified_at = at
            return Removal(row, at, who)

    def add_row(
        self,
        plan_id: str,
        kind: str = "Style",
        by: User | str | None = None,
        *,
        same_style_as: str | None = None,
    ) -> Row:
        """Put a new style (or a new colourway of an existing one) or material into a plan."""
        with self.lock:
            plan = self.plan(plan_id)
            rows = plan.rows(kind)
            header = self.row(same_style_as).header if same_style_as else None
            row = self._seeder.row(plan, kind, len(rows), header)
            rows[row.id] = row
            plan.modified_at = self._touch(row, by)[0]
            return row

    def edit_row(
        self,
        row_id: str,
        *,
        size: str | None = None,
        color: tuple[str, str, str] | None = None,
        supplier: User | str | None = None,
        by: User | str | None = None,
    ) -> RowEdit:
        """Change a row's size, colourway (id, name, number) or supplier."""
        with self.lock:
            row = self.row(row_id)
            before = copy.deepcopy(row)
            if size is not None:
                row.size = size
            if color is not None:
                row.color_id, row.color_name, row.color_number = color
            if supplier is not None:
                row.supplier = self.partner(supplier)
            at, who = self._touch(row, by)
            return RowEdit(before, copy.deepcopy(row), at, who)

    def edit(self, plan_id: str, kind: str, edits: list[dict[str, Any]], by: User) -> list[Row]:
        """Apply a `Timelines/Edit` body; all or nothing (ValueError saying what is wrong)."""
        return self.edit_timelines(plan_id, kind, edits, by)[0]

    def edit_timelines(
        self, plan_id: str, kind: str, edits: list[dict[str, Any]], by: User
    ) -> tuple[list[Row], list[Change]]:
        """Apply a `Timelines/Edit` body, all or nothing: the rows touched and one Change per
        milestone whose values changed (what BeProduct announces with OnChange webhooks).

        Validation (ValueError, answered 400 with the message): the plan must exist; every
        entry needs an `id` of one of the plan's rows of this kind and every timeline item an
        `id` of one of that row's milestones; a status must be one BeProduct knows; dates must
        be ISO timestamps (or null to clear).
        """
        with self.lock:
            try:
                plan = self.plan(plan_id)
            except KeyError:
                raise ValueError(f"Plan {plan_id} was not found") from None
            rows = plan.rows(kind)
            checked: list[tuple[Row, Milestone, dict[str, Any]]] = []
            for e in edits:
                if not isinstance(e, dict) or "id" not in e:
                    raise ValueError("each entry needs the id of a timeline row")
                row = rows.get(str(e["id"]))
                if row is None:
                    raise ValueError(f"{kind} timeline {e['id']} is not in plan {plan_id}")
                for t in e.get("timelines") or []:
                    if not isinstance(t, dict) or "id" not in t:
                        raise ValueError("each timeline item needs an id")
                    try:
                        m = row.milestone(str(t["id"]))
                    except KeyError:
                        raise ValueError(
                            f"Timeline item {t['id']} was not found in {kind.lower()} timeline"
                            f" {row.id}"
                        ) from None
                    _check_item(t)
                    checked.append((row, m, t))
            touched: dict[str, Row] = {}
            for e in edits:
                row = rows[str(e["id"])]
                if self._edit_row(row, e):
                    touched[row.id] = row
            befores = []
            for row, m, t in checked:
                befores.append((row, copy.deepcopy(m), m))
                self._edit_one(m, t)
                touched[row.id] = row
            stamps = {row.id: self._touch(row, by) for row in touched.values()}
            changes = [
                Change(row, before, copy.deepcopy(m), *stamps[row.id])
                for row, before, m in befores
                if before != m
            ]
            return list(touched.values()), changes

    def _edit_row(self, row: Row, e: dict[str, Any]) -> bool:
        """The row-level part of an edit (`colorwayId`, `size`, `supplier`); True if any."""
        changed = False
        if isinstance(e.get("size"), dict):
            row.size, changed = str(e["size"].get("value")), True
        if isinstance(e.get("colorwayId"), dict):
            row.color_id, changed = str(e["colorwayId"].get("value")), True
        supplier = e.get("supplier")
        if isinstance(supplier, dict):
            removed = set(_ids(supplier.get("remove")))
            if row.supplier is not None and row.supplier.id in removed:
                row.supplier = None
            for who in _ids(supplier.get("add")):
                row.supplier = self.partner(who)
            changed = True
        return changed

    def _edit_one(self, m: Milestone, t: dict[str, Any]) -> None:
        def value(key: str) -> Any:
            v = t[key]
            return v.get("value") if isinstance(v, dict) else v

        if "status" in t:
            m.status = str(value("status"))
        for key in ("rev", "final", "due"):
            if key in t:
                v = value(key)
                setattr(m, key, to_ticks(v) if v else None)
        m.assigned_to = _patched(m.assigned_to, t.get("assignedTo"), self.user)
        m.share_with = _patched(m.share_with, t.get("shareWith"), self.partner)

    def _touch(self, row: Row, by: User | str | None) -> tuple[int, User]:
        who = self.user(by)
        row.modified_at = self.clock.now()
        row.modified_by = who
        return row.modified_at, who


def _patched(people: list[User], change: object, find: Any) -> list[User]:
    """`people` after an edit's `{add: [...], remove: [...]}` (ids, names or objects)."""
    if not isinstance(change, dict):
        return people
    removed = set(_ids(change.get("remove")))
    kept = [u for u in people if u.id not in removed and u.name not in removed]
    for who in _ids(change.get("add")):
        u = find(str(who))
        if u not in kept:
            kept.append(u)
    return kept


def _ids(people: object) -> list[str]:
    """User ids from an `assignedTo.add/remove` list of ids or `{id, name}` objects."""
    if not isinstance(people, list):
        return []
    return [str(p.get("id") if isinstance(p, dict) else p) for p in people]


_KNOWN_STATUSES = {
    "notstarted",
    "inprogress",
    "waitingon",
    "rejected",
    "approved",
    "approvedwithcorrections",
    "complete",
    "na",
}


def _check_item(t: dict[str, Any]) -> None:
    """ValueError when an Edit item's status or dates cannot be what BeProduct accepts."""

    def value(key: str) -> Any:
        v = t[key]
        return v.get("value") if isinstance(v, dict) else v

    if "status" in t:
        label = value("status")
        key = "".join(ch for ch in str(label).lower() if ch.isalpha())
        if not isinstance(label, str) or key not in _KNOWN_STATUSES:
            raise ValueError(f"Status {label!r} is not a valid timeline status")
    for key in ("rev", "final", "due"):
        if key in t and value(key):
            to_ticks(str(value(key)))  # ValueError for a date it cannot read
