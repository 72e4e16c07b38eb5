"""pgbouncer (the Debian package) in transaction mode in front of the test database server."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.helpers.cli import free_port

DEBIAN_PATH = "/usr/sbin/pgbouncer"


def pgbouncer_binary() -> str:
    """The pgbouncer executable, or a loud skip saying how to get it."""
    found = shutil.which("pgbouncer") or (DEBIAN_PATH if Path(DEBIAN_PATH).exists() else None)
    if found is None:
        pytest.skip(
            "SKIPPED LOUDLY: pgbouncer is not installed, so the transaction-pooler tests did not"
            " run; install it with `apt-get install -y pgbouncer` (.ci/run does)"
        )
    return found


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _run_as(host: str) -> str | None:
    """pgbouncer refuses to run as root: the user to switch to. With a Unix-socket server
    (the embedded one) it is the socket directory's owner, who can reach the socket."""
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):
        return pwd.getpwuid(Path(host).stat().st_uid).pw_name
    return "nobody"


@contextmanager
def pgbouncer(server_url: str, dbname: str) -> Iterator[str]:
    """Start pgbouncer (pool_mode=transaction) for database `dbname` of the server at
    `server_url`; yield a URL of that database through it; stop it afterwards."""
    binary = pgbouncer_binary()
    server = conninfo_to_dict(server_url)
    host = str(server.get("host") or "127.0.0.1")
    user = str(server.get("user") or "postgres")
    target = [f"host={host}", f"dbname={dbname}", f"user={user}"]
    if server.get("port"):
        target.append(f"port={server['port']}")
    if server.get("password"):
        target.append(f"password={server['password']}")
    port = free_port()
    # Readable by the user pgbouncer switches to (mkdtemp makes 0700 directories).
    work = Path(tempfile.mkdtemp(prefix="bps-pgbouncer-"))
    work.chmod(0o755)
    (work / "users.txt").write_text(f"{_quote(user)} {_quote('')}\n")
    (work / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"{dbname} = {' '.join(target)}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {work / 'users.txt'}",
                "pool_mode = transaction",
                "default_pool_size = 20",
                "max_client_conn = 1000",
                "ignore_startup_parameters = extra_float_digits,options",
                "",
            ]
        )
    )
    for f in work.iterdir():
        f.chmod(0o644)
    args = [binary, str(work / "pgbouncer.ini")]
    as_user = _run_as(host)
    if as_user is not None:
        args[1:1] = ["-u", as_user]
    log = work / "pgbouncer.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)
    url = f"postgresql://{user}@127.0.0.1:{port}/{dbname}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with psycopg.connect(url, connect_timeout=2, prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
