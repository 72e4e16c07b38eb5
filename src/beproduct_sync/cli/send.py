"""Post webhook body files to a running service, with the headers BeProduct would send."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

from beproduct_sync.apply.ingest import expand
from beproduct_sync.config import Settings


def headers_for(settings: Settings, body: bytes) -> dict[str, str]:
    """Content type, the first configured bearer secret and, when configured, a signature."""
    headers = {"Content-Type": "application/json"}
    if settings.webhook_secrets:
        headers["Authorization"] = f"Bearer {settings.webhook_secrets[0]}"
    if settings.beproduct_webhook_signing_secret is not None:
        signer = Webhook(settings.beproduct_webhook_signing_secret.get_secret_value().strip())
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        headers["webhook-id"] = msg_id
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        # A body that is not UTF-8 is signed as replaced text; the service rejects it anyway.
        headers["webhook-signature"] = signer.sign(msg_id, now, body.decode(errors="replace"))
    return headers


def post_all(settings: Settings, url: str, paths: Iterable[Path]) -> Iterator[tuple[str, bool]]:
    """POST each file in order; yields a printable line and whether the answer was 2xx."""
    # httpx logs every request at INFO; the caller prints one line per file instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with httpx.Client(timeout=30.0) as client:
        for path in expand(paths):
            try:
                body = path.read_bytes()
            except OSError as exc:
                yield f"failed {path}: cannot read file: {exc.strerror}", False
                continue
            try:
                reply = client.post(url, content=body, headers=headers_for(settings, body))
            except httpx.HTTPError as exc:
                yield f"failed {path}: {exc} (is `beproduct-sync serve` running at {url}?)", False
                continue
            yield f"{reply.status_code} {path}: {reply.text.strip()}", reply.is_success
