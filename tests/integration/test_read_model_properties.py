"""Property: on random dependency graphs the read model's projection and critical path agree
with a brute-force reference, and no open milestone is projected before its predecessor."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

BASE = dt.date(2026, 3, 2)
OPEN = ("NOT_STARTED", "IN_PROGRESS", "WAITING_ON", "REJECTED")
DONE = ("APPROVED", "COMPLETE", "NA", "APPROVED_WITH_CORRECTIONS")


@dataclass(frozen=True)
class Node:
    pred: int | None
    gap: int
    plan: dt.date
    due: dt.date
    status: str
    final: dt.date | None

    @property
    def done(self) -> bool:
        return self.status in DONE

    def own_end(self, today: dt.date) -> dt.date:
        if self.done:
            return self.final or self.due
        return max(self.due, today)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[Node], dt.date]:
    n = draw(st.integers(2, 10))
    nodes: list[Node] = []
    for i in range(n):
        pred = draw(st.none() | st.integers(0, i - 1)) if i else None
        gap = draw(st.integers(0, 9))
        plan = nodes[pred].plan + dt.timedelta(days=gap) if pred is not None else BASE
        due = plan + dt.timedelta(days=draw(st.integers(-2, 6)))
        status = draw(st.sampled_from(OPEN + DONE))
        final = (
            due + dt.timedelta(days=draw(st.integers(-3, 3)))
            if status in DONE and draw(st.booleans())
            else None
        )
        nodes.append(Node(pred, gap if pred is not None else 0, plan, due, status, final))
    today = BASE + dt.timedelta(days=draw(st.integers(0, 40)))
    return nodes, today


def reference(nodes: list[Node], today: dt.date) -> list[dt.date]:
    """Projected ends by the definition: completed ends at its final date; open at the latest of
    its target, today and its predecessor's projected end plus its duration."""
    out: list[dt.date] = []
    for node in nodes:  # predecessors come first
        own = node.own_end(today)
        if node.done or node.pred is None:
            out.append(own)
        else:
            out.append(max(own, out[node.pred] + dt.timedelta(days=node.gap)))
    return out


def brute_force_longest(nodes: list[Node], today: dt.date, last: int) -> dt.date:
    """The longest path ending at `last`: over every start on its chain of predecessors (only
    through open milestones, which are the ones a delay pushes), own end + the durations after."""
    best = nodes[last].own_end(today)
    total = 0
    i = last
    while nodes[i].pred is not None and not nodes[i].done:
        total += nodes[i].gap
        i = nodes[i].pred  # type: ignore[assignment]
        best = max(best, nodes[i].own_end(today) + dt.timedelta(days=total))
    return best


def store(conn: psycopg.Connection[Any], nodes: list[Node]) -> tuple[uuid.UUID, list[uuid.UUID]]:
    plan, style = uuid.uuid4(), uuid.uuid4()
    defs = [uuid.uuid4() for _ in nodes]
    ids = [uuid.uuid4() for _ in nodes]
    conn.execute("INSERT INTO ops.tracking_plan (id) VALUES (%s)", (plan,))
    for i, node in enumerate(nodes):
        anchor = defs[node.pred] if node.pred is not None else uuid.UUID(int=0)
        conn.execute(
            "INSERT INTO ops.tracking_timeline_template_item (id, plan_id, master_folder, name,"
            " days, direction, act_desc, calendar, rule_version)"
            " VALUES (%s, %s, 'Style', %s, %s, 'AFTER', %s, 'DAYS', 1)",
            (defs[i], plan, f"M{i}", node.gap, anchor),
        )
    conn.execute(
        "INSERT INTO ops.tracking_plan_style (id, plan_id, style_number) VALUES (%s, %s, 'P')",
        (style, plan),
    )
    for i, node in enumerate(nodes):
        conn.execute(
            "INSERT INTO ops.tracking_plan_style_timeline (id, plan_style_id, template_item_id,"
            " status, plan_date, due_date, final_date) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (ids[i], style, defs[i], node.status, node.plan, node.due, node.final),
        )
    conn.execute("SELECT ops.resolve_schedule_rules(%s, NULL)", ([plan],))
    return style, ids


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=graphs())
def test_projection_and_critical_path_match_a_brute_force_reference(
    db_url: str, case: tuple[list[Node], dt.date]
) -> None:
    nodes, today = case
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        try:
            style, ids = store(conn, nodes)
            conn.execute("SELECT set_config('ops_api.today', %s, true)", (today.isoformat(),))
            rows = conn.execute("SELECT * FROM ops_api.style_timeline(%s)", (style,)).fetchall()
            chain = conn.execute("SELECT id FROM ops_api.critical_path(%s)", (style,)).fetchall()
            [end] = conn.execute(
                "SELECT p.* FROM ops.tracking_plan_style s,"
                " ops_api.plan_critical_path(s.plan_id) p WHERE s.id = %s",
                (style,),
            ).fetchall()
        finally:
            conn.rollback()
    index = {node_id: i for i, node_id in enumerate(ids)}
    got = {index[r["id"]]: r for r in rows}
    expected = reference(nodes, today)
    assert [got[i]["projected_end"] for i in range(len(nodes))] == expected
    for i, node in enumerate(nodes):
        pred = got[i]["predecessor_id"]
        assert (index[pred] if pred else None) == node.pred  # the rules are followed
        if node.pred is not None and not node.done:
            assert expected[i] >= expected[node.pred] + dt.timedelta(days=node.gap)
            assert got[i]["projected_end"] >= got[node.pred]["projected_end"]
    [final] = [i for i, r in got.items() if r["is_final"]]
    assert expected[final] == max(expected)
    assert expected[final] == brute_force_longest(nodes, today, final)
    path = [index[c["id"]] for c in chain]
    assert path and path[-1] == final
    for before, after in itertools.pairwise(path):
        assert nodes[after].pred == before and not nodes[after].done
    length = nodes[path[0]].own_end(today) + dt.timedelta(days=sum(nodes[i].gap for i in path[1:]))
    assert length == expected[final]  # the chain is a longest path to the final milestone
    # The plan's view computes the same end on its own narrow rows.
    assert (end["final_milestone_id"], end["projected_end"], end["critical_path_length"]) == (
        ids[final],
        expected[final],
        len(path),
    )
    late = sum(1 for n in nodes if not n.done and n.due < today)
    assert end["late_milestones"] == late
