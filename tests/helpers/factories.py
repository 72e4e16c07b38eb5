"""Streams of realistic events: the real samples plus variants with fresh ids.

A *family* is the three real payloads (create, change, delete) with every style-level id
(record, header, milestone instances) replaced by fresh UUIDs and its own style number, so
families never touch each other's rows while sharing the plan, folder and milestone
definitions, as styles of one plan do in production.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

from tests.helpers.samples import SAMPLE_NAMES, load_sample

_PER_STYLE_KEYS = frozenset({"Id", "HeaderId", "headerId", "timelineId"})
_SAMPLES = {name: load_sample(name) for name in SAMPLE_NAMES}


def _remap(node: Any, ids: dict[str, str], key: str | None = None) -> Any:
    if isinstance(node, dict):
        return {
            k: (node[k] if k == "timeLineSchema" else _remap(v, ids, k)) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_remap(v, ids, key) for v in node]
    if isinstance(node, str) and key in _PER_STYLE_KEYS:
        return ids.setdefault(node, str(uuid.uuid4()))
    return node


def family(index: int, names: tuple[str, ...] = SAMPLE_NAMES) -> list[dict[str, Any]]:
    """The sample payloads `names` as one fresh family of styles (style numbers GEN<index>-…)."""
    ids: dict[str, str] = {}
    bodies = []
    for name in names:
        body = _remap(copy.deepcopy(_SAMPLES[name]), ids)
        body["headerNumber"] = f"GEN{index:06d}-{body['headerNumber']}"
        bodies.append(body)
    return bodies


def stream(families: int, *, with_samples: bool = True) -> Iterator[dict[str, Any]]:
    """The real samples (optional) then `families` families, in create/change/delete order."""
    if with_samples:
        yield from (copy.deepcopy(_SAMPLES[n]) for n in SAMPLE_NAMES)
    for i in range(families):
        yield from family(i)


def creates(count: int) -> Iterator[dict[str, Any]]:
    """`count` OnCreate events of distinct styles (25 milestones each)."""
    for i in range(count):
        yield from family(i, ("tracking_oncreate.json",))
