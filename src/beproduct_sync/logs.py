"""Structured logging: one stream for our lines and every library's (uvicorn, psycopg_pool,
httpx, warnings), JSON lines for machines, readable lines on a terminal; secrets redacted in
every string, library lines and tracebacks included."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, MutableMapping
from types import TracebackType
from typing import Any

import structlog
from structlog.stdlib import ProcessorFormatter

_SECRET_KEYS = re.compile(r"(secret|token|password|authorization|api_key|dsn|database_url)", re.I)
# scheme://user:password@host → scheme://user:[redacted]@host (also inside longer text).
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.I)
# libpq key/value form and URL query parameters: password=..., password = '...', &password=...
_CONNINFO_PASSWORD = re.compile(r"\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&']+)", re.I)
REDACTED = "[redacted]"


def scrub(text: str) -> str:
    """`text` without the passwords of any URL or conninfo string in it."""
    if "=" in text:
        text = _CONNINFO_PASSWORD.sub(rf"\1{REDACTED}", text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    return text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(v) for v in value)
    if isinstance(value, dict):
        return {
            k: REDACTED if _SECRET_KEYS.search(str(k)) else _scrub_value(v)
            for k, v in value.items()
        }
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Blank values of secret-looking keys, and passwords inside every string (URLs,
    conninfo strings, exception texts, library messages)."""
    for key, value in list(event.items()):
        if key.startswith("_"):  # the stdlib record ProcessorFormatter carries along
            continue
        event[key] = REDACTED if _SECRET_KEYS.search(key) else _scrub_value(value)
    return event


class Throttle:
    """At most one log line per `seconds` for each key (e.g. an error text), so a failure that
    repeats every second shows once a minute with a count instead of flooding the log."""

    def __init__(self, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, key: str) -> int | None:
        """None: hold this line back. Otherwise log it, with this many held back before it."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.seconds:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


class _Stderr:
    """Whatever sys.stderr is at write time (test runners and CLI runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler this module installs (recognised, and replaced, on reconfiguration)."""


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """A crash is one more (redacted) log line, not plain text in a JSON stream."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    structlog.get_logger("beproduct_sync").critical(
        "uncaught_exception", exc_info=(kind, value, tb)
    )


def configure(level: str = "INFO", fmt: str = "auto") -> None:
    """Set up structlog and the stdlib root logger (once per process; again replaces)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        # Plain tracebacks: the rich default shows local variables, which can hold credentials.
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks become text before redaction, so their passwords are redacted too.
    final: list[Any] = [structlog.processors.format_exc_info, redact, renderer]
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared, *final],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # _Stderr is a duck-typed TextIO.
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # Every stdlib logger (uvicorn, psycopg_pool, httpx, ...) through the same processors.
    handler = _Handler(_Stderr())
    handler.setFormatter(
        ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
