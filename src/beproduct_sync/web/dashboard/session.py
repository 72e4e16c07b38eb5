"""Dashboard sign-in: an API token exchanged for a signed, HTTP-only session cookie.

The cookie holds no token: it holds an HMAC of the token under the session key, so a cookie
read off a screen gives nothing away, and a token removed from the configuration stops
opening the sessions it started (each request checks the HMAC still belongs to a configured
token). Each session carries its own CSRF token, which every POST must send back. Cookies are
`HttpOnly`, `SameSite=Strict`, and `Secure` when the request came over https.

The key signing cookies is BEPRODUCT_SYNC_DASHBOARD_SESSION_KEY, or a random key per process:
then every sign-in ends when `serve` restarts, which is the safe default for one receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from beproduct_sync.config import Settings
from beproduct_sync.web.access import AccessGuard, Role, access_from

COOKIE = "bps_dashboard"
INSECURE = "insecure-dev"  # the fingerprint of the open sessions of --insecure-dev


@dataclass(frozen=True)
class Session:
    """A signed-in browser: what it may do, and the CSRF token its forms send back."""

    role: Role
    csrf: str
    fingerprint: str

    @property
    def can_write(self) -> bool:
        """True when the session may act (replay), not only look."""
        return self.role >= Role.WRITE


class Sessions:
    """Issues and checks session cookies for the configured tokens."""

    def __init__(self, guard: AccessGuard, key: bytes, max_age_seconds: float) -> None:
        self.guard = guard
        self.max_age = int(max_age_seconds)
        self._key = key
        self._serializer = URLSafeTimedSerializer(key, salt="beproduct-sync dashboard session")
        roles: dict[str, Role] = {}
        for token in guard.read_tokens:
            roles[self._fingerprint(token)] = Role.READ
        for token in guard.write_tokens:
            roles[self._fingerprint(token)] = Role.WRITE
        if guard.insecure:
            roles[INSECURE] = Role.WRITE
        self._roles = roles

    def _fingerprint(self, token: bytes) -> str:
        return hmac.new(self._key, token, hashlib.sha256).hexdigest()[:32]

    def sign_in(self, token: str) -> Session | None:
        """A new session for a configured token (constant-time check), else None."""
        role = None if self.guard.insecure else self.guard.role_of(token.strip())
        if role is None:
            return None
        return Session(role, secrets.token_urlsafe(24), self._fingerprint(token.strip().encode()))

    def open_session(self) -> Session:
        """The session `--insecure-dev` hands every browser (write access, still CSRF-checked)."""
        return Session(Role.WRITE, secrets.token_urlsafe(24), INSECURE)

    def cookie(self, session: Session) -> str:
        """The signed cookie value of a session."""
        return self._serializer.dumps([session.csrf, session.fingerprint])

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie proves, if its signature and age hold and its token still
        grants a role; else None."""
        if not cookie:
            return None
        try:
            csrf, fingerprint = self._serializer.loads(cookie, max_age=self.max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(csrf, str) or not isinstance(fingerprint, str):
            return None
        role = self._roles.get(fingerprint)
        return None if role is None else Session(role, csrf, fingerprint)

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        """True when a form sent back this session's CSRF token."""
        return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())


def sessions_from(settings: Settings) -> Sessions:
    """The sessions the settings describe (a random key when none is configured)."""
    configured = settings.beproduct_sync_dashboard_session_key
    key = configured.get_secret_value().encode() if configured else secrets.token_bytes(32)
    return Sessions(
        access_from(settings), key, settings.beproduct_sync_dashboard_session_hours * 3600
    )
