"""API and dashboard tokens: read and write roles, distinct from the webhook secret."""

from __future__ import annotations

from typing import Any

import pytest

from beproduct_sync.config import Settings
from beproduct_sync.web.access import Role, access_from
from beproduct_sync.web.auth import Rejected


def _settings(**values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "beproduct_webhook_secret": None,
        "beproduct_sync_api_tokens": None,
        "beproduct_sync_api_write_tokens": None,
        "beproduct_sync_insecure_dev": False,
    }
    return Settings(_env_file=None, **{**defaults, **values})


def test_read_and_write_tokens_grant_their_roles() -> None:
    guard = access_from(
        _settings(beproduct_sync_api_tokens="r1, r2", beproduct_sync_api_write_tokens="w1")
    )
    assert guard.require("Bearer r2", Role.READ) is Role.READ
    assert guard.require("bearer w1", Role.READ) is Role.WRITE
    assert guard.require("Bearer w1", Role.WRITE) is Role.WRITE


def test_a_read_token_cannot_write() -> None:
    guard = access_from(_settings(beproduct_sync_api_tokens="r1"))
    with pytest.raises(Rejected) as caught:
        guard.require("Bearer r1", Role.WRITE)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Basic r1", "Bearer nope"])
def test_missing_or_unknown_tokens_are_401(header: str | None) -> None:
    guard = access_from(_settings(beproduct_sync_api_tokens="r1"))
    with pytest.raises(Rejected) as caught:
        guard.require(header, Role.READ)
    assert caught.value.status == 401


def test_the_webhook_secret_is_not_an_api_token() -> None:
    guard = access_from(_settings(beproduct_webhook_secret="hook"))
    assert guard.role_of("hook") is None
    with pytest.raises(Rejected):
        guard.require("Bearer hook", Role.READ)


def test_no_tokens_refuse_everyone_unless_insecure_dev() -> None:
    assert access_from(_settings()).role_of("anything") is None
    open_guard = access_from(_settings(beproduct_sync_insecure_dev=True))
    assert open_guard.require(None, Role.WRITE) is Role.WRITE
