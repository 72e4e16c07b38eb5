"""The guard: which configurations may start, and which requests pass."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from beproduct_sync.cli.send import headers_for
from beproduct_sync.config import Settings
from beproduct_sync.errors import ConfigError
from beproduct_sync.web.auth import Guard, Rejected, guard_from

SIGNING = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def settings(**values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "beproduct_webhook_secret": None,
        "beproduct_webhook_signing_secret": None,
        "beproduct_sync_insecure_dev": False,
    }
    return Settings(_env_file=None, **{**defaults, **values})


def rejection(guard: Guard, authorization: str | None) -> str | None:
    try:
        guard.authenticate(authorization)
    except Rejected as exc:
        return exc.code
    return None


def test_without_any_secret_the_guard_refuses_to_exist_and_says_what_to_set() -> None:
    with pytest.raises(ConfigError) as caught:
        guard_from(settings())
    assert "BEPRODUCT_WEBHOOK_SECRET" in str(caught.value)
    assert "--insecure-dev" in str(caught.value)


def test_a_blank_secret_list_counts_as_no_secret() -> None:
    with pytest.raises(ConfigError):
        guard_from(settings(beproduct_webhook_secret=" , ,"))


def test_insecure_dev_mode_lets_unauthenticated_requests_through() -> None:
    guard = guard_from(settings(beproduct_sync_insecure_dev=True))
    assert guard.insecure
    assert rejection(guard, None) is None


def test_a_configured_secret_turns_insecure_mode_off() -> None:
    config = settings(beproduct_webhook_secret="s3cret", beproduct_sync_insecure_dev=True)
    guard = guard_from(config)
    assert not guard.insecure
    assert rejection(guard, None) == "missing_credentials"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_credentials"),
        ("", "missing_credentials"),
        ("s3cret", "missing_credentials"),
        ("Token s3cret", "missing_credentials"),
        ("Bearer other", "invalid_credentials"),
        ("Bearer s3cre", "invalid_credentials"),
        ("Bearer s3cret", None),
        ("bearer s3cret", None),
        ("BEARER  s3cret ", None),
        ("Bearer rotated-2", None),
    ],
)
def test_the_bearer_header_is_parsed_and_compared(header: str | None, code: str | None) -> None:
    guard = guard_from(settings(beproduct_webhook_secret="s3cret,rotated-2"))
    assert rejection(guard, header) == code


def test_a_secret_with_non_ascii_text_is_compared_as_bytes() -> None:
    guard = guard_from(settings(beproduct_webhook_secret="pässwörd"))
    assert rejection(guard, "Bearer pässwörd") is None
    assert rejection(guard, "Bearer passwort") == "invalid_credentials"


def test_a_malformed_signing_secret_is_a_readable_configuration_error() -> None:
    with pytest.raises(ConfigError, match="BEPRODUCT_WEBHOOK_SIGNING_SECRET"):
        guard_from(
            settings(beproduct_webhook_secret="s", beproduct_webhook_signing_secret="whsec_")
        )


def test_headers_from_send_pass_the_guard_of_the_same_settings() -> None:
    config = settings(beproduct_webhook_secret="one,two", beproduct_webhook_signing_secret=SIGNING)
    body = b'{"eventType": "OnCreate"}'
    headers = headers_for(config, body)
    guard = guard_from(config)
    assert headers["Authorization"] == "Bearer one"
    guard.authenticate(headers["Authorization"])
    guard.verify_signature(body, headers)
    with pytest.raises(Rejected) as caught:
        guard.verify_signature(body + b" ", headers)
    assert caught.value.code == "invalid_signature"


def test_a_body_that_is_not_utf8_fails_the_signature_check_without_crashing() -> None:
    config = settings(beproduct_webhook_signing_secret=SIGNING)
    headers = headers_for(config, b"{}")
    with pytest.raises(Rejected) as caught:
        guard_from(config).verify_signature(b"\xff{}", headers)
    assert (caught.value.status, caught.value.code) == (401, "invalid_signature")
