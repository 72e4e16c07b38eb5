"""What the deploy recipes do, done here: the image's install and entrypoint in a clean
virtualenv, the systemd unit as systemd reads it, and the compose init script on a server."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.helpers.cli import run_cli
from tests.helpers.samples import SAMPLE_NAMES, sample_path
from tests.helpers.supabase import create_database, private_cluster, with_db

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str | Path, timeout: float = 300, **kwargs: Any) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    return str(done.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthcheck_argv() -> list[str]:
    """The Dockerfile's HEALTHCHECK command."""
    text = (ROOT / "Dockerfile").read_text()
    line = re.search(r"^\s*CMD (\[\"python\".*\])$", text, flags=re.M)
    assert line is not None
    return list(json.loads(line.group(1)))


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a pip install into a new virtualenv: minutes on a busy machine
def test_the_image_install_runs_in_a_clean_virtualenv(tmp_path: Path, db_url: str) -> None:
    """The Dockerfile's steps, without Docker: build the project's wheel from the files the
    image copies, install it with its dependencies from the package index into a new
    virtualenv, then run the entrypoint's commands and the HEALTHCHECK against `serve`.
    Takes a minute or two (it installs every dependency)."""
    context = tmp_path / "context"
    context.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(
        ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-cache-dir",
        "--no-deps",
        "--wheel-dir",
        tmp_path / "wheels",
        context,
        env=env,
    )
    (wheel,) = (tmp_path / "wheels").glob("beproduct_sync-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", wheel, env=env)
    cli = venv / "bin" / "beproduct-sync"
    assert "serve" in run(cli, "--help", env=env)
    for command in ("serve", "worker", "migrate", "status"):
        run(cli, command, "--help", env=env)

    port = free_port()
    serve_env = {
        **env,
        "DATABASE_URL": db_url,
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
        "BEPRODUCT_SYNC_HOST": "127.0.0.1",
        "BEPRODUCT_SYNC_PORT": str(port),
        "BEPRODUCT_SYNC_LOG_FORMAT": "json",
    }
    server = subprocess.Popen(  # the image's ENTRYPOINT + a receiver's command
        [str(cli), "serve", "--workers", "0", "--insecure-dev"],
        env=serve_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            check = subprocess.run(
                [str(venv / "bin" / "python"), *healthcheck_argv()[1:]],
                env=serve_env,
                capture_output=True,
                timeout=30,
                check=False,
            )
            if check.returncode == 0:
                break
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, check.stderr
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as ready:
            assert ready.status == 200
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 0, output


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_accepts_every_directive_of_the_unit(tmp_path: Path) -> None:
    # systemd also insists that ExecStart exists: point it at a program that does.
    text = (ROOT / "deploy/systemd/beproduct-sync.service").read_text()
    unit = tmp_path / "beproduct-sync.service"
    unit.write_text(text.replace("/opt/beproduct-sync/bin/beproduct-sync", sys.executable))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not found")
def test_the_compose_init_script_prepares_the_role_the_service_connects_as() -> None:
    """The postgres image runs the script as POSTGRES_USER before the migrate service; the
    receiver and the worker then connect as beproduct_sync_app. Twice, as a rerun by hand."""
    script = ROOT / "deploy/compose/initdb/10-beproduct-sync-roles.sh"
    with private_cluster() as server:
        name = create_database(server, "compose")
        socket_dir = str(conninfo_to_dict(server)["host"])
        for _ in range(2):
            run(
                "sh",
                script,
                env={
                    **os.environ,
                    "PGHOST": socket_dir,
                    "POSTGRES_USER": "postgres",
                    "POSTGRES_DB": name,
                    "BEPRODUCT_SYNC_APP_PASSWORD": "secret'with'quotes",
                },
            )
        owner = with_db(server, name)
        app = with_db(server, name, user="beproduct_sync_app")
        assert run_cli("migrate", env={"DATABASE_URL": owner}).returncode == 0
        done = run_cli(
            "ingest",
            *(str(sample_path(n)) for n in SAMPLE_NAMES),
            env={"DATABASE_URL": app, "BEPRODUCT_SYNC_AUTO_MIGRATE": "false"},
        )
        assert done.returncode == 0, done.stderr
        with psycopg.connect(owner) as conn:
            password = conn.execute(
                "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'beproduct_sync_app'"
            ).fetchone()
        assert password == (True,)
