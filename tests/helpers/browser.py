"""A headless Chromium (the system's, driven by Playwright) that may reach only 127.0.0.1 and
records every console error, page error and request, for the dashboard's browser tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, sync_playwright

# Debian's package installs /usr/bin/chromium; CHROMIUM may name another build.
CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
# Where to also write the README's screenshots (docs/ of the repository), when asked to.
DOCS_ENV = "BEPRODUCT_SYNC_SCREENSHOTS_DIR"


def chromium_path() -> str:
    """The system Chromium, or a loud skip saying how to install it."""
    given = os.environ.get("CHROMIUM")
    for name in (given,) if given else CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "SKIPPED LOUDLY: no Chromium on this machine; the dashboard's browser tests need it"
        " (`apt-get install -y chromium`, which .ci/run does)"
    )


@dataclass
class Seen:
    """What the page did: console errors, uncaught errors, requests, and blocked requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@contextmanager
def browser_page(
    width: int = 1280, height: int = 800, dark: bool = False
) -> Iterator[tuple[Page, Seen]]:
    """A fresh page in a fresh context; any request leaving 127.0.0.1 is aborted and noted."""
    executable = chromium_path()
    seen = Seen()

    def only_local(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            seen.blocked.append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                color_scheme="dark" if dark else "light",
            )
            context.set_default_timeout(30_000)
            context.route("**/*", only_local)
            page = context.new_page()
            page.on(
                "console",
                lambda m: seen.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))
            yield page, seen
            context.close()
        finally:
            browser.close()


def screenshot(page: Page, directory: Path, name: str) -> Path:
    """A full-page PNG in `directory` (a test artifact), and in $BEPRODUCT_SYNC_SCREENSHOTS_DIR
    when set (how the README's pictures in docs/ are made)."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    docs = os.environ.get(DOCS_ENV)
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(docs) / f"dashboard-{name}.png"), full_page=True)
    return path
