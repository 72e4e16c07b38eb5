"""What operators watch: every metric of `serve` and of its worker children on the one /metrics
port, and one log stream of JSON lines without credentials."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import conninfo_to_dict

from beproduct_sync.testing.fake import FakeBeProduct
from tests.helpers.cli import SECRET, env_with, serving
from tests.helpers.samples import SAMPLE_NAMES, sample_path

PASSWORD = "hunter2-never-logged"


def with_password(conninfo: str) -> str:
    """The same database as a URL with a password in its userinfo (trust auth ignores it)."""
    parts = conninfo_to_dict(conninfo)
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", "5432")
    return (
        f"postgresql://{parts.get('user', 'postgres')}:{PASSWORD}@/{parts['dbname']}"
        f"?host={host}&port={port}"
    )


def total(scrape: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        s.value
        for f in text_string_to_metric_families(scrape)
        for s in f.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def test_serve_shows_worker_metrics_on_its_port_and_logs_only_json_without_passwords(
    db_url: str, tmp_path: Path
) -> None:
    with FakeBeProduct.running(seed=3) as fake:
        env = env_with(
            DATABASE_URL=with_password(db_url),
            BEPRODUCT_WEBHOOK_SECRET=SECRET,
            BEPRODUCT_SYNC_ACCESS_LOG="true",
            BEPRODUCT_SYNC_WORKERS="1",
            **fake.env(),
        )
        with serving(tmp_path, env, "--worker-processes", "1") as served:
            for name in SAMPLE_NAMES:
                answer = httpx.post(
                    served.base + "/webhooks/beproduct/tracking",
                    content=sample_path(name).read_bytes(),
                    headers={
                        "Authorization": f"Bearer {SECRET}",
                        "Content-Type": "application/json",
                    },
                )
                assert answer.status_code == 202, answer.text
            deadline = time.monotonic() + 60
            while True:
                scrape = httpx.get(served.base + "/metrics", timeout=10).text
                applied = total(scrape, "beproduct_sync_events_total", outcome="applied")
                fetched = total(scrape, "beproduct_sync_api_calls_total")
                if (applied == 3 and fetched > 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            code, _, log = served.stop()

    # Worker-side metrics (recorded in the child) and receiver metrics, in one exposition.
    assert applied == 3, scrape
    assert total(scrape, "beproduct_sync_apply_seconds_count") == 3
    assert total(scrape, "beproduct_sync_receive_to_applied_seconds_count") == 3
    assert total(scrape, "beproduct_sync_events_received_total") == 3
    assert fetched > 0
    assert total(scrape, "beproduct_sync_cache_lookups_total") > 0
    families = Counter(f.name for f in text_string_to_metric_families(scrape))
    assert families and max(families.values()) == 1, families
    declared = Counter(line.split()[2] for line in scrape.splitlines() if line.startswith("# TYPE"))
    assert max(declared.values()) == 1, declared
    assert "beproduct_sync_queue_depth" in families

    # One log stream: the receiver's, the child's, uvicorn's access log and httpx's lines.
    assert code == 0, log
    records = [json.loads(line) for line in log.splitlines()]  # every line is JSON
    loggers = {r.get("logger") for r in records}
    assert {"uvicorn.access", "httpx"} <= loggers, loggers
    assert any(r["event"] == "event_processed" for r in records)
    for secret in (PASSWORD, fake.client_secret, fake.refresh_token, SECRET):
        assert secret not in log
