"""The fake identity server: OAuth2 refresh-token grant, reusable tokens or rotating ones."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from beproduct_sync.testing.fake.behaviour import Behaviour


class Tokens:
    """Issues access tokens for a refresh token and checks them.

    By default a refresh token is reusable until revoked, as BeProduct documents: a grant
    answers with the same refresh token. With `rotate`, each grant issues a new refresh token
    and retires the one used (what both SDKs are prepared for: they adopt a returned token); a
    client that loses the rotated token, or two clients refreshing with the same one, then get
    `invalid_grant`. The configured initial refresh token stays valid even then, so a
    restarted service can log in again — unless `retire_initial`, where it is one-time too.
    The switch is read at every grant, so `POST /_admin/behaviour` can flip it.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        lifetime: float = 8 * 3600,
        *,
        behaviour: Behaviour | None = None,
        retire_initial: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.initial_refresh_token = refresh_token
        self.lifetime = lifetime
        self.behaviour = behaviour or Behaviour()
        self.retire_initial = retire_initial
        self._initial_used = False
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}
        self._refresh: set[str] = {refresh_token}
        self._revoked: set[str] = set()
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
            if not self._usable(used):
                return 400, {"error": "invalid_grant"}
            if used == self.initial_refresh_token:
                self._initial_used = True
            refresh = used
            if self.rotate:
                if used != self.initial_refresh_token:
                    self._refresh.discard(used)
                refresh = secrets.token_urlsafe(24)
                self._refresh.add(refresh)
                self.latest_refresh_token = refresh
            access = secrets.token_urlsafe(24)
            self._access[access] = time.monotonic() + self.lifetime
            self.grants += 1
        return 200, {
            "access_token": access,
            "expires_in": self.lifetime,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": "openid profile email roles BeProductPublicApi offline_access",
        }

    @property
    def rotate(self) -> bool:
        """Whether grants rotate the refresh token (`Behaviour.rotate_refresh_tokens`)."""
        return self.behaviour.rotate_refresh_tokens

    def _usable(self, token: str) -> bool:
        if not token or token in self._revoked or token not in self._refresh:
            return False
        initial = token == self.initial_refresh_token
        return not (initial and self.rotate and self.retire_initial and self._initial_used)

    def revoke(self, refresh_token: str | None = None) -> None:
        """Revoke one refresh token, or every one issued so far (None)."""
        with self._lock:
            self._revoked |= {refresh_token} if refresh_token else set(self._refresh)

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
