"""Fault injection for tests and chaos drills: make chosen events fail inside the apply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beproduct_sync.apply.policy import Fault
from beproduct_sync.errors import SyncError

if TYPE_CHECKING:
    from beproduct_sync.model.webhook import TrackingEvent


class InjectedFault(SyncError):
    """Injected failure (BEPRODUCT_SYNC_FAULT_STYLE_NUMBERS lists this style number)."""


def style_numbers(raw: str) -> frozenset[str]:
    """The comma-separated setting as a set of style numbers (blanks dropped)."""
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def failing_styles(numbers: frozenset[str]) -> Fault | None:
    """A fault hook that raises for events of the listed style numbers; None when empty."""
    if not numbers:
        return None

    def fault(event: TrackingEvent) -> None:
        if event.header_number in numbers:
            raise InjectedFault(
                f"injected failure for style {event.header_number}"
                " (listed in BEPRODUCT_SYNC_FAULT_STYLE_NUMBERS)"
            )

    return fault
