"""Webhook bodies for load tests: the bundled real samples, re-issued with fresh ids.

Every body keeps the exact shape of its sample (same keys, same nesting, same value types);
only ids, style numbers, statuses and timestamps change. A `Plan` is a fresh plan id with its
own 25 milestone definitions (the OnCreate sample's `TimeLineId`s), so streams never touch
each other's rows. Within a stream, each OnChange reports one milestone moving on from the
state its style last had, so before/after agree with what was sent earlier.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from beproduct_sync.testing.fake.model import fmt_time

# The statuses the real samples carry, in the order a milestone moves through them.
STATUS_STEPS = ("Not Started", "In Progress", "Approved")
MIXED = {"OnChange": 0.80, "OnCreate": 0.15, "OnDelete": 0.05}


def _sample(name: str) -> dict[str, Any]:
    text = resources.files("beproduct_sync.samples").joinpath(name).read_text()
    return dict(json.loads(text))


_CREATE = _sample("tracking_oncreate.json")
_CHANGE = _sample("tracking_onchangetimeline.json")
_DELETE = _sample("tracking_ondelete.json")
_MILESTONES = _CREATE["data"]["after"]["Timelines"]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Style:
    """What a stream remembers of one style-in-plan: ids and each milestone's status step."""

    plan: str
    record_id: str
    header_id: str
    number: str
    milestone_ids: list[str]
    steps: list[int]
    announced: bool = False  # an OnCreate for it is in the stream


@dataclass
class Stream:
    """A generator of consistent bodies for one folder and a few fresh plans.

    `known_share` is the chance that an OnChange targets a style created earlier in the stream;
    the rest target styles that existed before the sync started (never announced by an
    OnCreate), drawn from a pool of `preexisting` of them, as when a sync starts mid-plan.
    """

    seed: int | None = None
    plans: int = 4
    known_share: float = 0.75
    preexisting: int = 1000
    rng: random.Random = field(init=False)
    folder: str = field(init=False)
    defs: dict[str, list[str]] = field(init=False)  # plan id → its milestone definition ids
    tick: int = field(init=False)  # the last `date`, in 100-ns ticks
    serial: int = field(init=False, default=0)
    live: list[Style] = field(init=False, default_factory=list)
    before_sync: list[Style] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.folder = _uuid(self.rng)
        self.defs = {
            _uuid(self.rng): [_uuid(self.rng) for _ in _MILESTONES] for _ in range(self.plans)
        }
        self.tick = time.time_ns() // 100

    def _now(self) -> str:
        # Strictly increasing, sub-millisecond gaps with all 7 digits used, like BeProduct's.
        self.tick += self.rng.randrange(1_000, 20_000)
        return str(fmt_time(self.tick))

    def _style(self) -> Style:
        self.serial += 1
        plan = self.rng.choice(list(self.defs))
        return Style(
            plan,
            _uuid(self.rng),
            _uuid(self.rng),
            f"LOAD{self.serial:06d}",
            [_uuid(self.rng) for _ in _MILESTONES],
            [0] * len(_MILESTONES),
        )

    def _envelope(
        self, sample: dict[str, Any], style: Style, data: dict[str, Any]
    ) -> dict[str, Any]:
        # One header name for all: the samples name their two styles differently.
        return {
            **sample,
            "headerId": style.header_id,
            "headerNumber": style.number,
            "headerName": _CREATE["headerName"],
            "folderId": self.folder,
            "data": {
                **sample["data"],
                **data,
                "planId": style.plan,
                "planFolderId": self.folder,
                "timelineId": style.record_id,
            },
            "date": self._now(),
        }

    def _base(self, template: dict[str, Any], style: Style) -> dict[str, Any]:
        return {
            **template,
            "Id": style.record_id,
            "PlanId": style.plan,
            "HeaderId": style.header_id,
        }

    def _record(self, template: dict[str, Any], style: Style) -> dict[str, Any]:
        timelines = [
            {**m, "Id": mid, "TimeLineId": did, "Status": STATUS_STEPS[step]}
            for m, mid, did, step in zip(
                _MILESTONES, style.milestone_ids, self.defs[style.plan], style.steps, strict=True
            )
        ]
        return {
            **self._base(template, style),
            "ModifiedAt": fmt_time(self.tick),
            "Timelines": timelines,
        }

    def create(self) -> dict[str, Any]:
        """OnCreate of a new style (25 milestones, all Not Started)."""
        style = self._style()
        style.announced = True
        self.live.append(style)
        after = self._record(_CREATE["data"]["after"], style)
        return self._envelope(_CREATE, style, {"after": after})

    def change(self) -> dict[str, Any]:
        """OnChange of one milestone of a style created earlier, or of one never announced."""
        if self.live and self.rng.random() < self.known_share:
            style = self.rng.choice(self.live)
        elif len(self.before_sync) < self.preexisting:
            style = self._style()
            self.before_sync.append(style)
        else:
            style = self.rng.choice(self.before_sync)
        i = self.rng.randrange(len(_MILESTONES))
        definition = self.defs[style.plan][i]
        item = _CHANGE["data"]["before"]["TimeLineItem"]
        before = {
            **item,
            "Id": style.milestone_ids[i],
            "TimeLineId": definition,
            "Status": STATUS_STEPS[style.steps[i]],
        }
        style.steps[i] = min(style.steps[i] + 1, len(STATUS_STEPS) - 1)
        data = {
            "before": {**self._base(_CHANGE["data"]["before"], style), "TimeLineItem": before},
            "after": {
                **self._base(_CHANGE["data"]["after"], style),
                "TimeLineItem": {
                    **before,
                    "Status": STATUS_STEPS[style.steps[i]],
                    "Final": fmt_time(self.tick),
                },
            },
            "timeLineSchema": {**_CHANGE["data"]["timeLineSchema"], "Id": definition},
        }
        return self._envelope(_CHANGE, style, data)

    def delete(self) -> dict[str, Any]:
        """OnDelete of a live style (its full last state in `data.before`)."""
        pool = self.live or self.before_sync
        if not pool:
            return self.create()
        style = pool.pop(self.rng.randrange(len(pool)))
        before = self._record(_DELETE["data"]["before"], style)
        return self._envelope(_DELETE, style, {"before": before})

    def bodies(self, kind: str, count: int) -> list[dict[str, Any]]:
        """`count` bodies: "create" (OnCreate only) or "mixed" (the `MIXED` proportions)."""
        if kind == "create":
            return [self.create() for _ in range(count)]
        if kind != "mixed":
            raise ValueError(f"unknown stream kind {kind!r}; use 'create' or 'mixed'")
        make = {"OnChange": self.change, "OnCreate": self.create, "OnDelete": self.delete}
        kinds = self.rng.choices(list(MIXED), weights=list(MIXED.values()), k=count)
        return [make[k]() for k in kinds]
