"""BeProduct list filters `[{field, operator, value}]` evaluated against fake records. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from beproduct_sync.testing.fake.model import to_ticks

Getter = Callable[[], object]
OPERATORS = ("Eq", "NotEq", "Gt", "Gte", "Lt", "Lte", "Contains", "In", "NotIn")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


class FilterError(ValueError):
    """A filter the fake cannot evaluate (bad operator or a value of the wrong kind)."""


def _as_ticks(value: object, need_z: bool) -> int:
    text = str(value).strip()
    if need_z and not text.endswith("Z"):
        # BeProduct misparses local-time strings (docs/filters.md): the wall-clock digits are
        # taken as UTC and the offset is lost.
        text = _OFFSET.sub("", text)
    return to_ticks(text)


def _coerce(sample: object, value: object, need_z: bool = True) -> object:
    """`value` converted to the kind of the field's value `sample`."""
    if isinstance(sample, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)
    if isinstance(sample, int):  # timestamps are kept as ticks
        if isinstance(value, int):
            return value
        try:
            return _as_ticks(value, need_z)
        except ValueError:
            raise FilterError(f"filter value {value!r} is not a timestamp") from None
    return "" if value is None else str(value).casefold()


def _norm(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, actual: Any, wanted: Any) -> bool:
    if op == "Eq":
        return bool(actual == wanted)
    if op == "NotEq":
        return bool(actual != wanted)
    if actual is None:
        return False
    if op == "Gt":
        return bool(actual > wanted)
    if op == "Gte":
        return bool(actual >= wanted)
    if op == "Lt":
        return bool(actual < wanted)
    if op == "Lte":
        return bool(actual <= wanted)
    if op == "Contains":
        return str(wanted) in str(actual)
    raise FilterError(f"unknown filter operator {op!r}; use one of {', '.join(OPERATORS)}")


def matches(
    filters: object,
    fields: Mapping[str, Getter],
    *,
    case_sensitive: bool = True,
    need_z: bool = True,
) -> bool:
    """True when the record whose fields are `fields` passes every filter.

    As documented: field names are case-sensitive PascalCase (`modifiedAt` is an unknown field)
    and unknown fields are silently ignored; date values must end in `Z` (others are misparsed,
    see `_as_ticks`). `case_sensitive=False` / `need_z=False` make the fake lenient.
    """
    if not filters:
        return True
    if not isinstance(filters, list):
        raise FilterError("filters must be a list of {field, operator, value}")
    fold = (lambda name: name) if case_sensitive else str.casefold
    by_name = {fold(name): get for name, get in fields.items()}
    for f in filters:
        if not isinstance(f, dict):
            raise FilterError("each filter must be an object {field, operator, value}")
        get = by_name.get(fold(str(f.get("field", ""))))
        if get is None:
            continue
        op = str(f.get("operator", "Eq"))
        actual = _norm(get())
        value = f.get("value")
        sample = actual if actual is not None else ""
        if op in ("In", "NotIn"):
            items = value if isinstance(value, list) else str(value or "").split(",")
            wanted = {
                _coerce(sample, v.strip() if isinstance(v, str) else v, need_z) for v in items
            }
            if (actual in wanted) != (op == "In"):
                return False
        elif not _compare(op, actual, _coerce(sample, value, need_z)):
            return False
    return True


def page(items: list[Any], size: int, number: int, cap: int = 0) -> dict[str, Any]:
    """One page `{result, total}`; page numbers start at 0.

    A `cap` above 0 is the server's largest page: a bigger `size` silently gets `cap` rows,
    and pages are counted in `cap`-sized steps.
    """
    size = min(size, cap) if cap > 0 else size
    start = size * number
    return {"result": items[start : start + size], "total": len(items)}
