"""The fake identity server: OAuth2 refresh-token grant with rotating refresh tokens."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any


class Tokens:
    """Issues access tokens for a refresh token and checks them.

    Each grant rotates the refresh token and retires the one used, as BeProduct's identity
    server does with one-time refresh tokens; a client that loses the rotated token (or two
    clients refreshing with the same one) gets `invalid_grant`. The configured initial refresh
    token stays valid, so a restarted service can always log in again — unless
    `retire_initial`, where it is one-time too (a service must then keep the rotated token).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        lifetime: float = 8 * 3600,
        *,
        retire_initial: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.initial_refresh_token = refresh_token
        self.lifetime = lifetime
        self.retire_initial = retire_initial
        self._initial_used = False
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        self.latest_refresh_token = refresh_token
        self.grants = 0

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (status, JSON body)."""
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.client_id or not secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return 400, {"error": "invalid_client"}
        used = form.get("refresh_token", "")
        with self._lock:
            initial = used == self.initial_refresh_token and not (
                self.retire_initial and self._initial_used
            )
            if not initial and used not in self._refresh:
                return 400, {"error": "invalid_grant"}
            self._initial_used = self._initial_used or initial
            self._refresh.discard(used)
            access, rotated = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self._access[access] = time.monotonic() + self.lifetime
            self._refresh.add(rotated)
            self.latest_refresh_token = rotated
            self.grants += 1
        return 200, {
            "access_token": access,
            "expires_in": self.lifetime,
            "token_type": "Bearer",
            "refresh_token": rotated,
            "scope": "openid profile email roles BeProductPublicApi offline_access",
        }

    def valid(self, authorization: str | None) -> bool:
        """True when the `Authorization` header holds a live access token."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        with self._lock:
            expires = self._access.get(authorization[7:].strip())
        return expires is not None and time.monotonic() < expires

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired (the next API call answers 401)."""
        with self._lock:
            self._access = dict.fromkeys(self._access, 0.0)
