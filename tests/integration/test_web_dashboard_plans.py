"""The dashboard's Plans and Workload pages over HTTP: every figure as the read model computes
it (ops_api), the grid, the critical path, the styles missing the end, the heat map's links."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape

import httpx
import pytest

from tests.helpers.live_server import live_server
from tests.helpers.plans import SIZES, backfilled, rows

# The first request of a page computes its figures: generous on a loaded machine.
TIMEOUT = 60.0
TOKENS = {"beproduct_sync_api_tokens": "plans-reader-token"}


@pytest.fixture
def plans_db(db_url: str) -> str:
    backfilled(db_url)
    return db_url


@contextmanager
def client_for(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        assert client.post("/login", data={"token": "plans-reader-token"}).status_code == 303
        yield client


def test_the_plans_page_shows_each_plans_completion_late_count_and_risk(plans_db: str) -> None:
    expected = {
        str(pid): progress
        for pid, progress in rows(
            plans_db, "SELECT id, ops_api.plan_progress(id) FROM ops.tracking_plan"
        )
    }
    with live_server(plans_db, **TOKENS) as base, client_for(base) as client:
        html = client.get("/plans").text
    assert len(expected) == SIZES.folders * SIZES.plans
    for pid, progress in expected.items():
        row = re.search(rf'data-testid="plan-{pid}".*?</tr>', html, re.S)
        assert row is not None, pid
        text = row.group(0)
        assert f'data-testid="completion">{progress["completion_pct"]} %<' in text
        assert f'data-testid="late">{progress["late"]}<' in text
        assert f'data-testid="risk">{progress["health"]["risk_level"]}<' in text
    assert any(p["late"] for p in expected.values())  # "today" sits inside the plans
    assert any(p["late"] < p["total"] for p in expected.values())


def test_a_plan_page_has_its_grid_critical_path_and_late_styles(plans_db: str) -> None:
    (pid, end_date), *_ = rows(plans_db, "SELECT id, end_date FROM ops.tracking_plan ORDER BY id")
    late_cells = rows(
        plans_db,
        "SELECT count(*) FROM ops_api.milestone_state WHERE plan_id = %s AND entity_active"
        " AND entity_type = 'style' AND is_late_now",
        pid,
    )[0][0]
    ends = rows(plans_db, "SELECT * FROM ops_api.plan_critical_path(%s)", pid)
    missing = sum(1 for e in ends if e[11] > 0)  # days_past_plan_end
    path = rows(plans_db, "SELECT * FROM ops_api.critical_path(%s)", ends[0][1])
    with live_server(plans_db, **TOKENS) as base, client_for(base) as client:
        html = client.get(f"/plans/{pid}").text
    assert html.count('<tr id="style-') == SIZES.styles
    assert len(re.findall(r'<td class="cell s-', html)) == SIZES.styles * SIZES.milestones
    assert len(re.findall(r'<td class="cell s-[a-z_]+ late', html)) == late_cells
    assert 'data-testid="plan-progress"' in html
    gantt = re.search(r"data-series='([^']*)'", html)
    assert gantt is not None
    series = json.loads(unescape(gantt.group(1)))
    assert len(series["labels"]) == len(path)
    assert all(p is None or p[0] < p[1] for p in series["projected"])
    if missing:
        table = html.split('data-testid="missing-end"')[1].split("</table>")[0]
        assert table.count("<tr>") == missing + 1  # the header row too
    else:
        assert 'data-testid="none-missing"' in html
    assert str(end_date) in html


@pytest.mark.parametrize("path", ["/plans/00000000-0000-0000-0000-000000000001", "/plans/nope"])
def test_an_unknown_plan_is_404(plans_db: str, path: str) -> None:
    with live_server(plans_db, **TOKENS) as base, client_for(base) as client:
        reply = client.get(path)
    assert reply.status_code == 404
    assert "No such plan." in reply.text


def test_each_heat_map_cell_links_to_exactly_its_milestones(plans_db: str) -> None:
    with live_server(plans_db, **TOKENS) as base, client_for(base) as client:
        html = client.get("/workload").text
        links = re.findall(
            r'<a href="(/workload/[0-9a-f-]+\?week=[0-9-]+)" title="(\d+) open, (\d+) late', html
        )
        assert links, html
        for href, open_count, late_count in links[:4]:
            page = client.get(href).text
            table = page.split('data-testid="assignee-milestones"')[1].split("</table>")[0]
            assert table.count("<tr>") == int(open_count) + 1
            assert table.count('class="num error"') == int(late_count)


def test_plans_and_workload_need_a_session(plans_db: str) -> None:
    with (
        live_server(plans_db, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        answers = [client.get(p) for p in ("/plans", "/workload")]
    assert [a.status_code for a in answers] == [303, 303]
