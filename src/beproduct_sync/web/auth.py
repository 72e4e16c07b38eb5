"""Who may post webhooks: bearer secrets, an optional Standard Webhooks signature, dev mode."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from standardwebhooks.webhooks import (
    EmptyWebhookSecretError,
    Webhook,
    WebhookVerificationError,
)

from beproduct_sync.config import Settings
from beproduct_sync.errors import ConfigError

UNAUTHENTICATED_REFUSAL = (
    "no webhook secret is configured; set BEPRODUCT_WEBHOOK_SECRET (the bearer secret registered"
    " in BeProduct), or pass --insecure-dev to accept unauthenticated requests on a dev machine"
)


class Rejected(Exception):
    """A request refused with an HTTP status, a stable error code and a message for people."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Guard:
    """The configured checks; `insecure` means no secret at all (dev mode)."""

    secrets: tuple[bytes, ...]
    signer: Webhook | None
    insecure: bool

    def authenticate(self, authorization: str | None) -> None:
        """Accept the bearer token if it equals any configured secret, else raise Rejected."""
        if not self.secrets:
            return  # dev mode, or a signature-only setup checked in verify_signature
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejected(401, "missing_credentials", "send 'Authorization: Bearer <secret>'")
        given = token.strip().encode()
        # Compare with every secret, without stopping at a match, so timing reveals neither
        # whether nor which of the rotated secrets matched.
        matched = False
        for secret in self.secrets:
            matched |= hmac.compare_digest(given, secret)
        if not matched:
            raise Rejected(401, "invalid_credentials", "the bearer secret is not accepted")

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Check webhook-id/-timestamp/-signature (5-minute window) when a signing secret is set."""
        if self.signer is None:
            return
        wanted = ("webhook-id", "webhook-timestamp", "webhook-signature")
        found = {name: headers.get(name, "") for name in wanted}
        if not all(found.values()):
            raise Rejected(
                401,
                "missing_signature",
                "send webhook-id, webhook-timestamp and"
                " webhook-signature headers (Standard Webhooks)",
            )
        try:
            self.signer.verify(body, found, json_parse=False)
        except WebhookVerificationError as exc:
            text = str(exc)
            if "timestamp" in text.lower():
                raise Rejected(
                    401,
                    "signature_expired",
                    "webhook-timestamp is outside the 5-minute tolerance; check the sender's clock",
                ) from None
            raise Rejected(401, "invalid_signature", "no webhook-signature matches") from None
        except ValueError:
            # A malformed signature list, bad base64 or a body that is not UTF-8 (the library
            # decodes it); binascii.Error and UnicodeDecodeError are both ValueErrors.
            raise Rejected(401, "invalid_signature", "webhook-signature is malformed") from None


def guard_from(settings: Settings) -> Guard:
    """The guard the settings describe; ConfigError when nothing authenticates requests."""
    secrets = tuple(s.encode() for s in settings.webhook_secrets)
    signer = None
    if settings.beproduct_webhook_signing_secret is not None:
        raw = settings.beproduct_webhook_signing_secret.get_secret_value().strip()
        try:
            signer = Webhook(raw) if raw else None
        except (ValueError, EmptyWebhookSecretError):
            raise ConfigError(
                "BEPRODUCT_WEBHOOK_SIGNING_SECRET is not a Standard Webhooks secret"
                " (whsec_ followed by base64)"
            ) from None
    insecure = not secrets and signer is None
    if insecure and not settings.beproduct_sync_insecure_dev:
        raise ConfigError(UNAUTHENTICATED_REFUSAL)
    return Guard(secrets=secrets, signer=signer, insecure=insecure)
