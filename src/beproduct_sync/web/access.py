"""Who may read and change things through `/api/v1` and the dashboard: bearer tokens by role.

Read tokens come from `BEPRODUCT_SYNC_API_TOKENS`, write tokens from
`BEPRODUCT_SYNC_API_WRITE_TOKENS`; a write token can also read. These are distinct from the
webhook secret: the sender of webhooks gets no read access, and a reader cannot post webhooks.
With no tokens configured the API refuses everyone, unless `--insecure-dev` opens it locally.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum

from beproduct_sync.config import Settings
from beproduct_sync.web.auth import Rejected


class Role(IntEnum):
    """What a caller may do; a higher role includes the lower ones."""

    READ = 1
    WRITE = 2


@dataclass(frozen=True)
class AccessGuard:
    """The configured API tokens; `insecure` grants everyone write access (dev mode only)."""

    read_tokens: tuple[bytes, ...]
    write_tokens: tuple[bytes, ...]
    insecure: bool = False

    def role_of(self, token: str | None) -> Role | None:
        """The role a token grants, or None. Compares with every token so timing tells nothing."""
        if self.insecure:
            return Role.WRITE
        if not token:
            return None
        given = token.encode()
        reads = writes = False
        for known in self.read_tokens:
            reads |= hmac.compare_digest(given, known)
        for known in self.write_tokens:
            writes |= hmac.compare_digest(given, known)
        if writes:
            return Role.WRITE
        return Role.READ if reads else None

    def require(self, authorization: str | None, needed: Role) -> Role:
        """The caller's role from an `Authorization: Bearer` header, or Rejected (401 / 403)."""
        if self.insecure:
            return Role.WRITE
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejected(401, "missing_credentials", "send 'Authorization: Bearer <api token>'")
        role = self.role_of(token.strip())
        if role is None:
            raise Rejected(401, "invalid_credentials", "the API token is not accepted")
        if role < needed:
            raise Rejected(403, "forbidden", "this token may read but not change anything")
        return role


def access_from(settings: Settings) -> AccessGuard:
    """The guard the settings describe. Read tokens include the write tokens."""
    return AccessGuard(
        read_tokens=tuple(t.encode() for t in settings.api_read_tokens),
        write_tokens=tuple(t.encode() for t in settings.api_write_tokens),
        insecure=settings.beproduct_sync_insecure_dev,
    )
