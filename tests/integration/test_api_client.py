"""The BeProduct client against the fake API over real HTTP: paging, filters, tokens, retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.ratelimit import Pause
from beproduct_sync.config import Settings
from beproduct_sync.errors import (
    BeProductAuthError,
    BeProductNotConfigured,
    BeProductNotFound,
    BeProductThrottled,
    BeProductUnavailable,
)
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import RateLimits
from beproduct_sync.testing.fake.model import fmt_time, now_ticks
from tests.helpers.clock import SkipAhead

SIZES = Sizes(folders=2, plans=4, styles=7, milestones=3, materials=2, material_milestones=2)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBeProduct]:
    with FakeBeProduct.running(seed=5, sizes=SIZES) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(fake: FakeBeProduct) -> Iterator[None]:
    fake.clear_faults()
    fake.stats.reset()
    yield
    fake.clear_faults()


def settings_for(fake: FakeBeProduct, **overrides: Any) -> Settings:
    values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
    values.update(
        beproduct_api_backoff_base_seconds=0.01,
        beproduct_api_backoff_max_seconds=0.05,
        beproduct_api_max_retries=3,
        beproduct_api_timeout_seconds=5,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


def client_for(fake: FakeBeProduct, **overrides: Any) -> BeProductClient:
    page_size = overrides.pop("page_size", 3)
    return BeProductClient(settings_for(fake, **overrides), page_size=page_size)


def first_plan_id(fake: FakeBeProduct) -> str:
    return next(iter(fake.world.plans))


async def test_folders_plans_and_plan_come_back_as_the_api_sends_them(fake: FakeBeProduct) -> None:
    async with client_for(fake) as client:
        folders = await client.folders()
        plans = [p async for p in client.plans(folders[0]["id"])]
        plan = await client.plan(plans[0]["id"])
    assert [f["id"] for f in folders] == list(fake.world.folders)
    assert len(plans) == SIZES.plans
    assert {p["folderId"] for p in plans} == {folders[0]["id"]}
    assert len(plan["style"]["timelines"]) == SIZES.milestones


async def test_style_timelines_walk_every_page_until_the_total(fake: FakeBeProduct) -> None:
    async with client_for(fake, page_size=3) as client:
        rows = [r async for r in client.style_timelines(first_plan_id(fake))]
        materials = [r async for r in client.material_timelines(first_plan_id(fake))]
    assert len(rows) == SIZES.styles
    assert len({r["id"] for r in rows}) == SIZES.styles
    assert fake.count("style_timeline") == 3  # 3 + 3 + 1
    assert len(materials) == SIZES.materials


async def test_pages_report_number_items_and_total(fake: FakeBeProduct) -> None:
    async with client_for(fake) as client:
        pages = [
            p
            async for p in client.pages(
                f"Tracking/Plan/{first_plan_id(fake)}/Style/Timeline",
                "Tracking/Plan/{id}/Style/Timeline",
                page_size=5,
                body={"filters": []},
            )
        ]
    assert [(p.number, len(p.items), p.total, p.last) for p in pages] == [
        (0, 5, 7, False),
        (1, 2, 7, True),
    ]


async def test_a_page_size_the_server_caps_is_learned_from_the_first_page(
    fake: FakeBeProduct,
) -> None:
    fake.behave(max_page_size=3)
    try:
        async with client_for(fake) as client:
            pages = [
                p
                async for p in client.pages(
                    **client.timeline_request(first_plan_id(fake), "Style", None) | {"page_size": 5}
                )
            ]
    finally:
        fake.behave(max_page_size=100)
    assert [(p.number, p.size, len(p.items), p.received) for p in pages] == [
        (0, 5, 3, 3),
        (1, 3, 3, 6),
        (2, 3, 1, 7),
    ]
    assert len({r["id"] for p in pages for r in p.items}) == SIZES.styles


async def test_a_listing_walks_again_when_rows_move_under_it(fake: FakeBeProduct) -> None:
    plan_id = list(fake.world.plans)[-1]  # other tests count the first plan's rows
    victim = next(iter(fake.world.plan(plan_id).styles))
    fake.after_page("Style", lambda: fake.remove_style(victim))
    async with client_for(fake, page_size=2) as client:
        listing = await client.timeline_listing(plan_id, "Style")
    live = set(fake.world.plan(plan_id).styles)
    assert listing.complete
    assert listing.walks == 2
    assert {r["id"] for r in listing.items} == live


async def test_modified_at_gte_filter_returns_only_rows_changed_since(fake: FakeBeProduct) -> None:
    plan_id = first_plan_id(fake)
    row = list(fake.world.plan(plan_id).styles.values())[3]
    since = fmt_time(now_ticks())
    fake.change_milestone(row.id, status="Approved")
    async with client_for(fake) as client:
        rows = [
            r
            async for r in client.style_timelines(
                plan_id, [{"field": "ModifiedAt", "operator": "Gte", "value": since}]
            )
        ]
    assert [r["id"] for r in rows] == [row.id]


async def test_an_expired_token_is_refreshed_once_for_all_concurrent_callers(
    fake: FakeBeProduct,
) -> None:
    async with client_for(fake) as client:
        await client.folders()
        grants = fake.tokens.grants
        fake.expire_access_tokens()
        plans = await asyncio.gather(*(client.plan(p) for p in list(fake.world.plans)[:6]))
    assert len(plans) == 6
    assert fake.tokens.grants == grants + 1
    assert fake.count("plan", 401) >= 1


async def test_the_token_is_refreshed_before_it_expires_without_a_401() -> None:
    with FakeBeProduct.running(seed=2, sizes=SIZES, token_lifetime=0.3) as short:
        async with client_for(short) as client:
            await client.folders()
            await asyncio.sleep(0.3)
            await client.folders()
        assert short.tokens.grants == 2
        assert short.count("folders", 401) == 0


async def test_the_rotated_refresh_token_is_kept_and_handed_to_the_hook(
    fake: FakeBeProduct,
) -> None:
    seen: list[str] = []

    async def persist(token: str) -> None:
        seen.append(token)

    fake.behave(rotate_refresh_tokens=True)
    client = BeProductClient(settings_for(fake), on_refresh_token=persist)
    try:
        async with client:
            await client.folders()
            fake.expire_access_tokens()
            # The second refresh only works with the rotated token: the fake retires used ones.
            await client.folders()
    finally:
        fake.behave(rotate_refresh_tokens=False)
    assert client.refresh_token == fake.tokens.latest_refresh_token
    assert seen == [seen[0], client.refresh_token]
    assert seen[0] != fake.refresh_token


async def test_a_reusable_refresh_token_is_kept_and_never_reported_as_rotated(
    fake: FakeBeProduct,
) -> None:
    seen: list[str] = []
    client = BeProductClient(settings_for(fake), on_refresh_token=seen.append)
    async with client:
        await client.folders()
        fake.expire_access_tokens()
        await client.folders()
    assert client.refresh_token == fake.refresh_token
    assert seen == []


async def test_a_429_with_its_wait_only_in_the_body_waits_that_long(fake: FakeBeProduct) -> None:
    # Fails before the client read the 429 body: with no Retry-After it retried at once.
    fake.fault(status=429, retry_after=0.4, retry_info="body", times=1, endpoint="folders")
    async with client_for(fake) as client:
        await client.plan(first_plan_id(fake))  # token fetched outside the timed part
        started = time.monotonic()
        await client.folders()
        waited = time.monotonic() - started
    assert waited >= 0.4
    assert [(p.reason, p.source) for p in client.pauses] == [("429", "retryAfterSeconds")]


async def test_a_429_without_retry_information_waits_for_the_rate_limit_reset(
    fake: FakeBeProduct,
) -> None:
    fake.set_rate_limits(RateLimits(time_scale=1 / 30))  # a "minute" of 2 s
    fake.fault(status=429, retry_info="none", times=1, endpoint="folders")
    try:
        async with client_for(fake) as client:
            await client.folders()
    finally:
        fake.set_rate_limits(RateLimits())
    (pause,) = client.pauses
    assert pause.source == "X-RateLimit-Reset"
    assert 0 < pause.seconds <= 3.1  # the rest of the 2-s window; the header rounds up


async def test_a_low_remaining_count_paces_requests_instead_of_running_into_429s(
    fake: FakeBeProduct,
) -> None:
    # Fails before pacing: the sixth request of a five-per-window limit got a 429.
    fake.set_rate_limits(RateLimits(per_minute=5, per_hour=0, per_day=0, time_scale=1 / 60))
    try:
        async with client_for(fake, beproduct_api_rate_reserve=2) as client:
            for _ in range(12):
                await client.folders()
    finally:
        fake.set_rate_limits(RateLimits())
    assert fake.count("folders", 200) == 12
    assert fake.count("folders", 429) == 0


async def test_an_hour_long_wait_is_a_pause_not_a_failure(fake: FakeBeProduct) -> None:
    # Fails before: retries without waiting, then BeProductUnavailable after max_retries.
    fake.set_rate_limits(RateLimits(per_minute=0, per_hour=3, per_day=0))
    time_ = SkipAhead(fake)
    heard: list[Pause] = []
    try:
        async with (
            BeProductClient(
                settings_for(fake, beproduct_api_rate_reserve=0),
                sleep=time_.sleep,
                clock=time_.clock,
                on_pause=heard.append,
            ) as client,
            httpx.AsyncClient() as other,
        ):
            await client.folders()
            # Another client of the same account spends the rest of the hour's budget.
            token = client._access
            for _ in range(2):
                await other.get(
                    fake.api_base + "Tracking/Folders", headers={"Authorization": f"Bearer {token}"}
                )
            folders = await client.folders()
    finally:
        fake.set_rate_limits(RateLimits())
    assert len(folders) == SIZES.folders
    assert fake.count("folders", 429) == 1
    (pause,) = heard
    assert (pause.reason, pause.window) == ("429", "hour")
    assert pause.seconds > 60  # minutes, not a retry backoff
    assert pause.resume_at.timestamp() == pytest.approx(time_.clock(), abs=5)
    assert "429 (hour window): paused until" in pause.describe()


async def test_a_wait_longer_than_the_caller_allows_fails_with_the_reset_time(
    fake: FakeBeProduct,
) -> None:
    fake.set_rate_limits(RateLimits(per_minute=0, per_hour=1, per_day=0))
    try:
        async with client_for(fake) as client:
            await client.folders()
            client._max_pause = 30.0
            with pytest.raises(BeProductThrottled) as caught:
                await client.folders()
    finally:
        fake.set_rate_limits(RateLimits())
    assert 30 < caught.value.retry_after <= 3601  # the header rounds up to whole seconds
    assert "rate limit is used up for GET Tracking/Folders" in str(caught.value)
    assert "Try again then" in str(caught.value)


async def test_a_slow_page_is_waited_for_while_connecting_is_timed_separately(
    fake: FakeBeProduct,
) -> None:
    # Fails before the separate connect timeout: one 0.3 s timeout covered the whole request.
    fake.fault(latency=0.6, times=1, endpoint="folders")
    async with client_for(
        fake, beproduct_api_timeout_seconds=5, beproduct_api_connect_timeout_seconds=0.3
    ) as client:
        assert len(await client.folders()) == SIZES.folders
    defaults = Settings(_env_file=None)
    assert defaults.beproduct_api_timeout_seconds == 300
    assert defaults.beproduct_api_connect_timeout_seconds == 10


async def test_a_429_waits_for_retry_after(fake: FakeBeProduct) -> None:
    fake.fault(status=429, retry_after=0.3, times=1, endpoint="folders")
    async with client_for(fake) as client:
        await client.plan(first_plan_id(fake))  # token fetched outside the timed part
        started = time.monotonic()
        folders = await client.folders()
    assert time.monotonic() - started >= 0.3
    assert len(folders) == SIZES.folders
    assert fake.count("folders") == 2


async def test_503s_and_a_dropped_connection_are_retried(fake: FakeBeProduct) -> None:
    fake.fault(status=503, times=2, endpoint="plan")
    fake.fault(drop=True, times=1, endpoint="style_timeline")
    async with client_for(fake) as client:
        plan = await client.plan(first_plan_id(fake))
        rows = [r async for r in client.style_timelines(first_plan_id(fake))]
    assert plan["id"] == first_plan_id(fake)
    assert len(rows) == SIZES.styles
    assert fake.count("plan", 503) == 2
    assert fake.count("style_timeline", 0) == 1


async def test_exhausted_retries_give_a_readable_error_without_secrets(fake: FakeBeProduct) -> None:
    fake.fault(status=503, endpoint="folders")
    async with client_for(fake, beproduct_api_max_retries=2) as client:
        with pytest.raises(BeProductUnavailable) as caught:
            await client.folders()
    message = str(caught.value)
    assert "GET Tracking/Folders failed after 3 attempt(s)" in message
    assert "HTTP 503" in message
    assert fake.client_secret not in message
    assert fake.count("folders") == 3


async def test_concurrency_cap_limits_requests_in_flight(fake: FakeBeProduct) -> None:
    fake.fault(latency=0.05, endpoint="plan")
    async with client_for(fake, beproduct_api_max_concurrency=2) as client:
        await client.folders()
        fake.stats.reset()
        await asyncio.gather(*(client.plan(p) for p in list(fake.world.plans)[:8]))
    assert fake.count("plan") == 8
    assert fake.max_in_flight == 2


async def test_bad_credentials_raise_an_auth_error_naming_the_settings(fake: FakeBeProduct) -> None:
    async with client_for(fake, beproduct_client_secret="wrong-secret") as client:
        with pytest.raises(BeProductAuthError, match="BEPRODUCT_CLIENT_SECRET") as caught:
            await client.folders()
    assert "wrong-secret" not in str(caught.value)
    assert fake.count("token", 400) == 1  # refused credentials are not retried


async def test_unknown_plan_raises_not_found(fake: FakeBeProduct) -> None:
    async with client_for(fake) as client:
        with pytest.raises(BeProductNotFound, match=r"Tracking/Plan/\{id\}"):
            await client.plan("00000000-0000-4000-8000-000000000000")


async def test_edit_style_timelines_changes_the_milestone(fake: FakeBeProduct) -> None:
    plan_id = first_plan_id(fake)
    row = list(fake.world.plan(plan_id).styles.values())[1]
    milestone = row.milestones[0]
    async with client_for(fake) as client:
        updated = await client.edit_style_timelines(
            plan_id,
            [{"id": row.id, "timelines": [{"id": milestone.id, "status": {"value": "Rejected"}}]}],
        )
    assert updated[0]["id"] == row.id
    assert fake.world.row(row.id).milestone(milestone.id).status == "Rejected"


async def test_api_calls_are_counted_by_endpoint_template_and_status(fake: FakeBeProduct) -> None:
    def calls(endpoint: str, status: str) -> float:
        return (
            REGISTRY.get_sample_value(
                "beproduct_sync_api_calls_total", {"endpoint": endpoint, "status": status}
            )
            or 0.0
        )

    before_ok, before_503 = calls("Tracking/Plan/{id}", "200"), calls("Tracking/Plan/{id}", "503")
    fake.fault(status=503, times=1, endpoint="plan")
    async with client_for(fake) as client:
        await client.plan(first_plan_id(fake))
    assert calls("Tracking/Plan/{id}", "200") == before_ok + 1
    assert calls("Tracking/Plan/{id}", "503") == before_503 + 1


def test_missing_credentials_are_refused_up_front() -> None:
    settings = Settings(_env_file=None, beproduct_company="x")
    with pytest.raises(BeProductNotConfigured, match="BEPRODUCT_CLIENT_ID"):
        BeProductClient(settings)
