"""`beproduct-sync fake-beproduct`: serve the fake BeProduct API or write webhook bodies from it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from beproduct_sync.cli.common import app, fail

if TYPE_CHECKING:  # the fake (and its web stack) is imported by its commands only
    from beproduct_sync.testing.fake import FakeBeProduct
    from beproduct_sync.testing.fake.behaviour import Behaviour, RateLimits

fake_app = typer.Typer(
    help="A fake BeProduct API (seeded data, faults) for demos, tests and benchmarks.",
    invoke_without_command=True,
)
app.add_typer(fake_app, name="fake-beproduct")


@dataclass(frozen=True)
class _Options:
    host: str
    port: int
    seed: int
    folders: int
    plans: int
    styles: int
    milestones: int
    materials: int
    token_lifetime: float
    samples: bool
    behaviour: Behaviour
    rate_limits: RateLimits
    webhook_url: str | None = None
    webhook_secret: str | None = None


@fake_app.callback()
def fake_beproduct(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on (0 = any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 1,
    folders: Annotated[int, typer.Option(min=1)] = 3,
    plans: Annotated[int, typer.Option(min=1, help="Plans per folder.")] = 10,
    styles: Annotated[int, typer.Option(min=0, help="Style rows per plan.")] = 50,
    milestones: Annotated[int, typer.Option(min=1, help="Milestones per style.")] = 25,
    materials: Annotated[int, typer.Option(min=0, help="Material rows per plan.")] = 10,
    token_lifetime: Annotated[float, typer.Option(help="Access token lifetime, seconds.")] = 28800,
    samples: Annotated[
        bool,
        typer.Option(help="Also know the plan of the bundled real webhook samples (for demos)."),
    ] = True,
    max_page_size: Annotated[
        int, typer.Option(min=0, help="Largest page served; bigger asks get fewer (0 = no cap).")
    ] = 100,
    rate_per_minute: Annotated[
        int, typer.Option(min=0, help="Requests per minute (0 = no limit).")
    ] = 1000,
    rate_per_hour: Annotated[
        int, typer.Option(min=0, help="Requests per hour (0 = no limit).")
    ] = 30_000,
    rate_per_day: Annotated[
        int, typer.Option(min=0, help="Requests per day (0 = no limit).")
    ] = 300_000,
    rate_time_scale: Annotated[
        float, typer.Option(min=0.0001, help="Shrink the rate windows (0.05: a minute lasts 3 s).")
    ] = 1.0,
    retry_after_header: Annotated[
        str, typer.Option(help="429s carry Retry-After: always, never (body only) or alternate.")
    ] = "alternate",
    seconds_per_row: Annotated[
        float, typer.Option(min=0.0, help="Latency each timeline row served adds (0 = none).")
    ] = 0.001,
    case_sensitive_filters: Annotated[
        bool, typer.Option(help="Filter field names are case-sensitive (unknown: ignored).")
    ] = True,
    filter_dates_need_z: Annotated[
        bool, typer.Option(help="Date filter values without Z are misparsed (offset dropped).")
    ] = True,
    rest_spellings: Annotated[
        bool, typer.Option(help='REST spells "Approved with Corrections" and "N/A".')
    ] = True,
    label_drift: Annotated[
        bool, typer.Option(help="Webhook status labels change case from event to event.")
    ] = True,
    computed_late: Annotated[
        bool, typer.Option(help="REST `late` is computed when read, not stored.")
    ] = True,
    rotate_refresh_tokens: Annotated[
        bool, typer.Option(help="Rotate refresh tokens on each grant (default: reusable).")
    ] = False,
    folder_brand: Annotated[
        bool, typer.Option(help="Include the undocumented `brand` in folders.")
    ] = False,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="POST the OnChange webhooks of edits to this URL (reverse sync)."),
    ] = None,
    webhook_secret: Annotated[
        str | None, typer.Option(help="Bearer secret sent with those webhooks.")
    ] = None,
    webhook_delay: Annotated[
        float, typer.Option(min=0.0, help="Each webhook waits a random delay up to this (s).")
    ] = 0.5,
    webhook_duplicates: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fraction of webhooks delivered twice.")
    ] = 0.1,
) -> None:
    """Serve the fake API and print the settings that point beproduct-sync at it.

    It behaves as BeProduct documents, and adversarially where the documentation leaves room;
    each flag turns one trait off (see the README).
    """
    from beproduct_sync.testing.fake.behaviour import RETRY_AFTER_HEADER, Behaviour, RateLimits

    if retry_after_header not in RETRY_AFTER_HEADER:
        raise fail(f"--retry-after-header must be one of {', '.join(RETRY_AFTER_HEADER)}")
    behaviour = Behaviour(
        filter_fields_case_sensitive=case_sensitive_filters,
        filter_dates_need_z=filter_dates_need_z,
        max_page_size=max_page_size,
        rest_status_spellings=rest_spellings,
        label_case_drift=label_drift,
        late_computed_on_read=computed_late,
        rotate_refresh_tokens=rotate_refresh_tokens,
        folder_brand=folder_brand,
        seconds_per_row=seconds_per_row,
        retry_after_header=retry_after_header,
        webhook_delay_seconds=webhook_delay,
        webhook_duplicate_fraction=webhook_duplicates,
    )
    limits = RateLimits(rate_per_minute, rate_per_hour, rate_per_day, rate_time_scale)
    ctx.obj = _Options(
        host,
        port,
        seed,
        folders,
        plans,
        styles,
        milestones,
        materials,
        token_lifetime,
        samples,
        behaviour,
        limits,
        webhook_url,
        webhook_secret,
    )
    if ctx.invoked_subcommand is None:
        _serve(ctx.obj)


def _fake(o: _Options) -> FakeBeProduct:
    from beproduct_sync.testing.fake import FakeBeProduct, Sizes
    from beproduct_sync.testing.fake.samples import add_sample_plan

    sizes = Sizes(
        folders=o.folders,
        plans=o.plans,
        styles=o.styles,
        milestones=o.milestones,
        materials=o.materials,
    )
    fake = FakeBeProduct(
        seed=o.seed,
        sizes=sizes,
        token_lifetime=o.token_lifetime,
        behaviour=o.behaviour,
        rate_limits=o.rate_limits,
    )
    if o.samples:
        add_sample_plan(fake.world)
    if o.webhook_url:
        fake.send_webhooks_to(o.webhook_url, o.webhook_secret)
    return fake


def _serve(o: _Options) -> None:
    from beproduct_sync.testing.fake.gate import QuietDrops
    from beproduct_sync.testing.fake.server import bind, server

    fake = _fake(o)
    try:
        sock = bind(o.host, o.port)
    except OSError as exc:
        raise fail(
            f"cannot listen on {o.host}:{o.port}: {exc.strerror}; try another --port"
        ) from None
    fake.base_url = f"http://{o.host}:{sock.getsockname()[1]}"
    for name, value in fake.env().items():
        typer.echo(f"{name}={value}")
    typer.echo(
        f"# fake BeProduct on {fake.base_url} (admin: {fake.base_url}/_admin/stats); Ctrl-C stops",
        err=True,
    )
    logging.getLogger("uvicorn.error").addFilter(QuietDrops(None))
    server(fake.app, log_level="info").run(sockets=[sock])


@fake_app.command()
def webhooks(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory to write the bodies into.")],
    count: Annotated[int, typer.Option(min=1, help="How many bodies.")] = 100,
    kind: Annotated[str, typer.Option(help="Style or Material.")] = "Style",
) -> None:
    """Write webhook bodies consistent with the seeded data (same seed, same files)."""
    if kind not in ("Style", "Material"):
        raise fail("--kind must be Style or Material")
    from beproduct_sync.testing.fake import Clock, FakeBeProduct, Sizes, World
    from beproduct_sync.testing.fake.model import to_ticks

    o: _Options = ctx.obj
    sizes = Sizes(
        folders=o.folders,
        plans=o.plans,
        styles=o.styles,
        milestones=o.milestones,
        materials=o.materials,
    )
    # Virtual time makes the files reproducible; it starts after all seeded modifications.
    world = World(o.seed, sizes, Clock(start=to_ticks("2025-11-06T08:00:00Z")), o.behaviour)
    fake = FakeBeProduct(seed=o.seed, world=world)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot create {out}: {exc.strerror}") from None
    bodies = fake.webhook_stream(count, kind)
    width = len(str(len(bodies)))
    for i, body in enumerate(bodies, 1):
        name = f"{i:0{width}d}_{body['eventType'].lower()}.json"
        (out / name).write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    typer.echo(f"wrote {len(bodies)} webhook bodies to {out}")
