"""`FakeBeProduct`: the fake API served by uvicorn on a loopback port, plus its Python controls."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from beproduct_sync.testing.fake import webhooks
from beproduct_sync.testing.fake.app import TOKEN_PATH, Backend, build_app
from beproduct_sync.testing.fake.behaviour import Behaviour, RateLimits
from beproduct_sync.testing.fake.chaos import Fault, Faults, RateLimiter, Stats
from beproduct_sync.testing.fake.delivery import WebhookSender
from beproduct_sync.testing.fake.gate import QuietDrops
from beproduct_sync.testing.fake.model import Row
from beproduct_sync.testing.fake.seed import Sizes
from beproduct_sync.testing.fake.tokens import Tokens
from beproduct_sync.testing.fake.world import Change, Removal, RowEdit, World

_THREAD = "fake-beproduct"
_quiet = QuietDrops(_THREAD)
logging.getLogger("uvicorn.error").addFilter(_quiet)


class FakeBeProduct:
    """A seeded, mutable, fault-injectable BeProduct API over real HTTP.

    `with FakeBeProduct.running(seed=1) as fake:` serves it on a free loopback port; `fake.env()`
    gives the settings that point the service at it. It behaves as BeProduct documents (and
    adversarially where the documentation leaves room): `behaviour` switches each trait off,
    `rate_limits` sets the minute/hour/day windows (see testing.fake.behaviour).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        sizes: Sizes | None = None,
        company: str = "fakeco",
        client_id: str = "fake-client",
        client_secret: str = "fake-secret",  # noqa: S107
        refresh_token: str = "fake-refresh-token",  # noqa: S107
        token_lifetime: float = 8 * 3600,
        world: World | None = None,
        behaviour: Behaviour | None = None,
        rate_limits: RateLimits | None = None,
        retire_initial_refresh_token: bool = False,
    ) -> None:
        self.company = company
        self.world = world or World(seed, sizes, behaviour=behaviour)
        if behaviour is not None:
            self.world.behaviour = behaviour
        # retire_initial_refresh_token (with rotation): the configured token works once.
        self.tokens = Tokens(
            client_id,
            client_secret,
            refresh_token,
            token_lifetime,
            behaviour=self.world.behaviour,
            retire_initial=retire_initial_refresh_token,
        )
        self.faults = Faults(seed)
        self.stats = Stats()
        self.limiter = RateLimiter(rate_limits or RateLimits())
        self.sender = WebhookSender(self.world.behaviour, seed)
        self.backend = Backend(
            company, self.world, self.tokens, self.faults, self.stats, self.limiter, self.sender
        )
        self.app = build_app(self.backend)
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- running -----------------------------------------------------------------------------
    @classmethod
    @contextmanager
    def running(
        cls, *, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> Iterator[FakeBeProduct]:
        """Serve a new fake in a background thread for the duration of the block."""
        fake = cls(**options)
        fake.start(host, port)
        try:
            yield fake
        finally:
            fake.stop()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving in a daemon thread; returns once the port accepts connections."""
        sock = bind(host, port)
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        self._server = server(self.app)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"{_THREAD}-{sock.getsockname()[1]}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake BeProduct server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving (and sending webhooks) and wait for the threads."""
        self.sender.close()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    # -- where it is -------------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint."""
        return self.base_url + TOKEN_PATH

    @property
    def api_base(self) -> str:
        """The Tracking API base, `{base_url}/api/{company}/`."""
        return f"{self.base_url}/api/{self.company}/"

    @property
    def client_id(self) -> str:
        """The accepted client id."""
        return self.tokens.client_id

    @property
    def client_secret(self) -> str:
        """The accepted client secret."""
        return self.tokens.client_secret

    @property
    def refresh_token(self) -> str:
        """The initial refresh token (always accepted)."""
        return self.tokens.initial_refresh_token

    def env(self) -> dict[str, str]:
        """Environment settings that point beproduct-sync at this fake."""
        return {
            "BEPRODUCT_COMPANY": self.company,
            "BEPRODUCT_CLIENT_ID": self.client_id,
            "BEPRODUCT_CLIENT_SECRET": self.client_secret,
            "BEPRODUCT_REFRESH_TOKEN": self.refresh_token,
            "BEPRODUCT_API_URL": self.base_url,
            "BEPRODUCT_TOKEN_URL": self.token_url,
        }

    # -- faults, stats, tokens ---------------------------------------------------------------
    def fault(self, **options: Any) -> Fault:
        """Inject a fault, e.g. `fake.fault(status=503, times=2, endpoint="plan")`."""
        return self.faults.add(Fault(**options))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def count(self, endpoint: str, status: int | None = None) -> int:
        """Requests received by an endpoint (`plan`, `folders`, `token`, …), by status if given."""
        return self.stats.count(endpoint, status)

    @property
    def max_in_flight(self) -> int:
        """The most API requests the fake was serving at once."""
        return self.stats.max_in_flight

    def expire_access_tokens(self) -> None:
        """Expire every issued access token; the next API call answers 401."""
        self.tokens.expire_access_tokens()

    @property
    def behaviour(self) -> Behaviour:
        """The switches in force (change them with `behave` or `POST /_admin/behaviour`)."""
        return self.world.behaviour

    def behave(self, **switches: Any) -> None:
        """Change switches, e.g. `fake.behave(max_page_size=0)`."""
        self.world.behaviour.update(switches)

    def set_rate_limits(self, limits: RateLimits) -> None:
        """New minute/hour/day limits; usage so far is forgotten."""
        self.limiter.reset(limits)

    def after_page(self, kind: str, action: Callable[[], Any]) -> None:
        """Run `action` once, right after the next `kind` ("Style", "Material") timeline page is
        served: rows added or removed while a client pages."""
        self.backend.after_page.setdefault(kind, []).append(action)

    def advance_rate_clock(self, seconds: float) -> None:
        """Let `seconds` pass for the rate windows (an hour-long wait in no time)."""
        self.limiter.advance(seconds)

    # -- data and webhooks -------------------------------------------------------------------
    def send_webhooks_to(self, url: str | None, secret: str | None = None) -> None:
        """Deliver the OnChange webhooks of edits (and of `change_in_beproduct`) to `url` with
        `Authorization: Bearer <secret>` (delays and duplicates: see Behaviour)."""
        self.sender.target(url, secret)

    def change_in_beproduct(
        self, row_id: str, milestone_id: str | None = None, *, notify: bool = True, **changes: Any
    ) -> dict[str, Any]:
        """Someone changes a milestone in BeProduct's UI: the data changes and, unless `notify`
        is false, the OnChange webhook is delivered. Returns the webhook body."""
        body = webhooks.on_change(
            self.world, self.world.change_milestone(row_id, milestone_id, **changes)
        )
        if notify:
            self.sender.send([body])
        return body

    def change_milestone(
        self, row_id: str, milestone_id: str | None = None, **changes: Any
    ) -> Change:
        """Change a milestone (see World.change_milestone)."""
        return self.world.change_milestone(row_id, milestone_id, **changes)

    def edit_row(self, row_id: str, **changes: Any) -> RowEdit:
        """Change a row's size, colourway or supplier (see World.edit_row)."""
        return self.world.edit_row(row_id, **changes)

    def on_row_change(self, edit: RowEdit) -> dict[str, Any]:
        """The OnChange webhook body announcing a row edit (no TimeLineItem)."""
        return webhooks.on_row_change(self.world, edit)

    def on_attribute_change(
        self, row: Row | str, field: str = "Season", before: Any = "SS25", after: Any = "SS26"
    ) -> dict[str, Any]:
        """A style attribute change body (not a tracking event: no data.planId)."""
        return webhooks.on_attribute_change(self.world, self._row(row), field, before, after)

    def remove_style(self, row_id: str) -> Removal:
        """Remove a style (or material) row from its plan."""
        return self.world.remove_row(row_id)

    def add_style(self, plan_id: str, kind: str = "Style", **options: Any) -> Row:
        """Add a style (or material) row to a plan."""
        return self.world.add_row(plan_id, kind, **options)

    def on_create(self, row: Row | str) -> dict[str, Any]:
        """An OnCreate webhook body for a row as it is now."""
        return webhooks.on_create(self.world, self._row(row))

    def on_change(self, change: Change) -> dict[str, Any]:
        """The OnChange webhook body announcing a change."""
        return webhooks.on_change(self.world, change)

    def on_delete(self, removal: Removal) -> dict[str, Any]:
        """The OnDelete webhook body announcing a removal."""
        return webhooks.on_delete(self.world, removal.row, removal.by, removal.at)

    def webhook_stream(self, count: int, kind: str = "Style") -> list[dict[str, Any]]:
        """`count` webhook bodies of a plausible day, each mutation applied to the data."""
        return list(webhooks.stream(self.world, count, kind=kind))

    def _row(self, row: Row | str) -> Row:
        return row if isinstance(row, Row) else self.world.row(row)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one)."""
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections whose socket says TCP. With it on, a small answer written in two parts
    # (headers, body) waited for the client's delayed ACK: 40 ms per request.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def server(app: Any, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for the app; quiet, no lifespan, quick to shut down."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        log_config=None,
    )
    return uvicorn.Server(config)
