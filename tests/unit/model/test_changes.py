"""Reverse sync's pure rules: conflicts per field, satisfaction, the Edit body."""

from __future__ import annotations

from datetime import UTC

from beproduct_sync.model.changes import (
    ChangeRequest,
    MilestoneState,
    conflicting_fields,
    edit_body,
    satisfied,
    state_from_api,
    version_moved,
)

U1 = "11111111-1111-1111-1111-111111111111"
U2 = "22222222-2222-2222-2222-222222222222"


def req(**kw: object) -> ChangeRequest:
    values: dict[str, object] = {
        "id": 1,
        "milestone_id": "m-1",
        "record_id": "row-1",
        "plan_id": "plan-1",
        "entity_type": "style",
        "changes": ("status",),
        "status": "APPROVED",
        "base": {"status": "not_started", "given": False},
    }
    values.update(kw)
    return ChangeRequest(**values)  # type: ignore[arg-type]


def state(
    status: str | None = "NOT_STARTED",
    rev_date: str | None = None,
    final_date: str | None = None,
    assignees: frozenset[str] | set[str] = frozenset(),
    share: frozenset[str] | set[str] = frozenset(),
) -> MilestoneState:
    return MilestoneState(status, rev_date, final_date, frozenset(assignees), frozenset(share))


def test_a_field_someone_else_changed_is_a_conflict() -> None:
    assert conflicting_fields(req(), state("REJECTED")) == ["status"]


def test_the_base_or_the_wanted_value_is_no_conflict() -> None:
    assert conflicting_fields(req(), state("NOT_STARTED")) == []
    assert conflicting_fields(req(), state("APPROVED")) == []


def test_a_value_an_earlier_request_of_ours_set_is_no_conflict() -> None:
    assert conflicting_fields(req(), state("IN_PROGRESS"), {"status": {"IN_PROGRESS"}}) == []


def test_force_skips_the_conflict_check() -> None:
    assert conflicting_fields(req(force=True), state("REJECTED")) == []


def test_fields_the_request_does_not_set_never_conflict() -> None:
    r = req(
        changes=("rev_date",),
        status=None,
        rev_date="2026-04-01",
        base={"rev_date": None, "status": "not_started"},
    )
    assert conflicting_fields(r, state("REJECTED")) == []
    assert conflicting_fields(r, state("REJECTED", rev_date="2026-01-01")) == ["rev_date"]


def test_a_base_given_only_as_a_version_conflicts_when_the_row_moved_on() -> None:
    r = req(base={"source_version": "10", "given": True})
    assert version_moved(r, "11") is True
    assert version_moved(r, "10") is False
    assert version_moved(req(base={"source_version": "10", "given": False}), "11") is False


def test_satisfied_needs_every_value_and_the_people_sets() -> None:
    r = req(assignees_add=(U1,), assignees_remove=(U2,))
    assert satisfied(r, state("APPROVED", assignees={U1}))
    assert not satisfied(r, state("APPROVED", assignees={U1, U2}))
    assert not satisfied(r, state("APPROVED"))
    assert not satisfied(r, state("IN_PROGRESS", assignees={U1}))


def test_the_edit_body_has_the_sdk_shape_one_entry_per_row() -> None:
    a = req(
        changes=("status", "rev_date", "final_date"),
        rev_date="2026-04-01",
        final_date=None,
        assignees_add=(U1,),
        share_remove=(U2,),
    )
    b = req(id=2, milestone_id="m-2", changes=("status",), status="APPROVED_WITH_CORRECTIONS")
    c = req(
        id=3, milestone_id="m-3", record_id="row-2", changes=(), status=None, assignees_remove=(U1,)
    )
    assert edit_body([a, b, c]) == [
        {
            "id": "row-1",
            "timelines": [
                {
                    "id": "m-1",
                    "status": {"value": "Approved"},
                    "rev": {"value": "2026-04-01T00:00:00Z"},
                    "final": {"value": None},
                    "assignedTo": {"add": [U1], "remove": []},
                    "shareWith": {"add": [], "remove": [U2]},
                },
                {"id": "m-2", "status": {"value": "Approved with corrections"}},
            ],
        },
        {"id": "row-2", "timelines": [{"id": "m-3", "assignedTo": {"add": [], "remove": [U1]}}]},
    ]


def test_an_api_item_reads_as_beproduct_means_it() -> None:
    item = {
        "status": "Approved with Corrections",
        "rev": "2026-04-01T00:00:00Z",
        "final": None,
        "assignedTo": [{"id": U1, "name": "a"}],
        "shareWith": [{"id": U2, "name": "p", "partnerType": "Supplier"}],
    }
    assert state_from_api(item, UTC) == MilestoneState(
        "APPROVED_WITH_CORRECTIONS", "2026-04-01", None, frozenset({U1}), frozenset({U2})
    )
