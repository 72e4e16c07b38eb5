"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL, or an embedded server), one migrated
template database per session, and a fresh clone of it per test (CREATE DATABASE … TEMPLATE)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from beproduct_sync import db

SAMPLE_NAMES = (
    "tracking_oncreate.json",
    "tracking_onchangetimeline.json",
    "tracking_ondelete.json",
)


def sample_path(name: str) -> Path:
    """Path of a bundled real BeProduct payload."""
    return Path(str(resources.files("beproduct_sync.samples").joinpath(name)))


def load_sample(name: str) -> dict[str, Any]:
    """A real BeProduct payload, decoded."""
    return json.loads(sample_path(name).read_text())


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """Admin URL of the Postgres the tests use: TEST_DATABASE_URL, or an embedded server."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    # Not under pytest's basetemp: pytest prunes old basetemp dirs at session start, which would
    # pull the data directory from under a server still used by a concurrent session.
    root = Path(tempfile.mkdtemp(prefix="bps-test-"))
    try:
        yield db.embedded_url(root)
    finally:
        db.stop_embedded(root)
        shutil.rmtree(root, ignore_errors=True)


def _with_db(url: str, name: str) -> str:
    return make_conninfo(url, dbname=name)


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    """A database with all migrations applied, used as the template for each test."""
    name = f"bps_tmpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db.migrate(_with_db(pg_server_url, name))
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _scratch_db(server: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database (a clone of `template`, or empty), dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clone = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clone}')
    try:
        yield _with_db(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated, empty database for this test alone."""
    with _scratch_db(pg_server_url, "bps_t", template_db) as url:
        yield url


@pytest.fixture
def reference_db_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """A second fresh, migrated database, to compare against."""
    with _scratch_db(pg_server_url, "bps_r", template_db) as url:
        yield url


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """URL of a fresh database with no schema at all."""
    with _scratch_db(pg_server_url, "bps_e") as url:
        yield url


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`beproduct-sync ARGS` as a separate process with `env` added to this one's."""
    return subprocess.run(
        [sys.executable, "-m", "beproduct_sync", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


CASES = Path(__file__).parent / "cases"


def load_case(name: str) -> dict[str, Any]:
    """A hand-written variant payload from tests/cases/."""
    return json.loads((CASES / name).read_text())
