"""Teach a fake world the plan of the bundled real webhook samples.

The real payloads in `beproduct_sync/samples/` belong to a plan, folder and milestone definitions
the seeded data does not contain. `add_sample_plan` adds them, so a demo that sends the real
samples to a service pointed at the fake shows enriched plan, folder and milestone names. The
plan is dated before the samples, so the sample OnChange's own (newer) definition text wins.
"""

from __future__ import annotations

import json
from importlib import resources

from beproduct_sync.testing.fake.model import Folder, MilestoneDef, Plan, to_ticks
from beproduct_sync.testing.fake.seed import DEPARTMENTS, TASKS
from beproduct_sync.testing.fake.world import World

PLAN_NAME = "GREYSON 2026 SPRING DROP 1"
FOLDER_NAME = "GREYSON 2026 SPRING"
MODIFIED_AT = "2025-11-01T00:00:00.0000000Z"


def _sample(name: str) -> dict:  # type: ignore[type-arg]
    text = resources.files("beproduct_sync.samples").joinpath(name).read_text()
    return dict(json.loads(text))


def add_sample_plan(world: World) -> str:
    """Add the samples' folder, plan and milestone definitions; returns the plan id."""
    create = _sample("tracking_oncreate.json")
    change = _sample("tracking_onchangetimeline.json")
    plan_id = create["data"]["planId"]
    folder_id = create["data"]["planFolderId"]
    schema = change["data"]["timeLineSchema"]
    at = to_ticks(MODIFIED_AT)
    defs = []
    for i, m in enumerate(create["data"]["after"]["Timelines"]):
        known = m["TimeLineId"] == schema["Id"]
        defs.append(
            MilestoneDef(
                id=m["TimeLineId"],
                department=schema["Department"] if known else DEPARTMENTS[i % len(DEPARTMENTS)],
                action=schema["TaskDescription"] if known else TASKS[i % len(TASKS)],
                short=schema["ShortDescription"] if known else TASKS[i % len(TASKS)][:16],
                page_name=None,
                days=0,
                plan_date=at,
            )
        )
    with world.lock:
        world.folders.setdefault(folder_id, Folder(folder_id, FOLDER_NAME, "GREYSON", True, at, at))
        world.plans.setdefault(
            plan_id,
            Plan(
                id=plan_id,
                name=PLAN_NAME,
                description="the plan of the real webhook samples",
                folder_id=folder_id,
                start=to_ticks("2025-09-01T00:00:00Z"),
                end=to_ticks("2026-06-30T00:00:00Z"),
                active=True,
                created_at=at,
                modified_at=at,
                created_by=world.users[0],
                modified_by=world.users[0],
                style_defs=defs,
                material_defs=[],
            ),
        )
    return str(plan_id)
