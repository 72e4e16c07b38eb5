"""Run the real app under a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from beproduct_sync.bootstrap import build
from beproduct_sync.config import Settings
from beproduct_sync.web.app import WEBHOOK_PATH, create_app

SECRETS = ("first-secret-0123456789", "second-secret-abcdefghij", "third-secret-klmnopqrst")


def settings_for(db_url: str, **overrides: Any) -> Settings:
    """Test settings: the given database, three bearer secrets, nothing from a .env file."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "beproduct_webhook_secret": ",".join(SECRETS),
        "beproduct_webhook_signing_secret": None,
        "beproduct_sync_insecure_dev": False,
        "beproduct_sync_pool_timeout_seconds": 2.0,
        "beproduct_sync_max_body_bytes": 1024 * 1024,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@contextmanager
def live_server(db_url: str, **overrides: Any) -> Iterator[str]:
    """Yield the base URL of a running receiver for `db_url`; stop it afterwards."""
    rt = build(settings_for(db_url, **overrides), migrate=False)
    app = create_app(rt.settings, rt.url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def webhook_url(base: str) -> str:
    """The tracking webhook URL under `base`."""
    return base + WEBHOOK_PATH


def auth(secret: str = SECRETS[0]) -> dict[str, str]:
    """Headers of a correctly authenticated JSON request."""
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
