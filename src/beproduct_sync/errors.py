"""The one exception family the package raises; each docstring is the default message.

    SyncError
    ├── ConfigError               the configuration is invalid
    │   └── EmbeddedNotInstalled  no DATABASE_URL, and the embedded PostgreSQL is not installed
    ├── DatabaseUnavailable       the database cannot be reached
    ├── MissingPrivilege          the database role may not do what the service needs
    ├── MigrationChanged          an applied migration differs from the one shipped
    ├── MigrationBusy             another migrator held the lock for too long
    ├── NotATrackingEvent         valid JSON, but not a tracking event (stored as ignored)
    ├── MalformedEvent            a tracking event missing what it needs (dead-lettered)
    ├── SelectionError            a replay selection that selects nothing sensible
    ├── ChangeRequestError        a reverse-sync change request that cannot be recorded
    │   ├── UnknownMilestone      (no such milestone stored here)
    │   └── IdempotencyKeyReused  (the key was used for a different change)
    ├── TokenStoreUnavailable     the stored BeProduct refresh token cannot be read
    └── BeProductError            a BeProduct API call failed
        ├── BeProductNotConfigured
        ├── BeProductAuthError
        ├── BeProductUnavailable  (after retries: try again later)
        │   └── BeProductThrottled  (a rate limit longer than the caller waits)
        ├── BeProductNotFound     (404)
        └── BeProductRejected     (other 4xx)

Messages are for people: they say what is wrong and what to do, and never carry response
bodies, SQL, tokens or passwords.
"""

from __future__ import annotations


class SyncError(Exception):
    """beproduct-sync failed."""

    def __init__(self, message: str | None = None) -> None:
        # The docstring as one line: a message is one line of a log or of a CLI error.
        super().__init__(message or " ".join((self.__doc__ or "").split()))


class ConfigError(SyncError):
    """The configuration is invalid."""


class DatabaseUnavailable(SyncError):
    """The database cannot be reached; check DATABASE_URL and that the server is running."""


class EmbeddedNotInstalled(ConfigError):
    """DATABASE_URL is not set and the embedded PostgreSQL is not installed: set DATABASE_URL,
    or install the extra with `pip install 'beproduct-sync[embedded]'`."""


class MissingPrivilege(SyncError):
    """The database role lacks a privilege the service needs: run the service as a member of
    beproduct_sync_service (GRANT beproduct_sync_service TO <role>, as the owner), and apply the
    migrations as the owner."""


class MigrationChanged(SyncError):
    """A migration differs from the one that was applied: released migrations are never edited;
    reinstall the beproduct-sync version that applied it."""


class MigrationBusy(SyncError):
    """Another process is applying migrations and did not finish in time; start again once it
    has finished."""


class NotATrackingEvent(SyncError):
    """The body is valid JSON but not a BeProduct tracking event."""


class MalformedEvent(SyncError):
    """The body looks like a tracking event but a required field is missing or invalid."""


class SelectionError(SyncError):
    """Choose what to replay: --id, --status, --since or --until."""


class ChangeRequestError(SyncError):
    """The change request is invalid."""


class UnknownMilestone(ChangeRequestError):
    """No such milestone is stored here; it must arrive by webhook or backfill first."""


class IdempotencyKeyReused(ChangeRequestError):
    """This idempotency key was already used for a different change; use a new key."""


class TokenStoreUnavailable(SyncError):
    """The stored BeProduct refresh token cannot be read: check the database and run
    `beproduct-sync migrate`."""


class BeProductError(SyncError):
    """The BeProduct API call failed."""


class BeProductNotConfigured(BeProductError):
    """BeProduct API credentials are missing: set BEPRODUCT_COMPANY, BEPRODUCT_CLIENT_ID,
    BEPRODUCT_CLIENT_SECRET and BEPRODUCT_REFRESH_TOKEN."""


class BeProductAuthError(BeProductError):
    """BeProduct refused the credentials: check BEPRODUCT_CLIENT_ID, BEPRODUCT_CLIENT_SECRET and
    BEPRODUCT_REFRESH_TOKEN (a revoked refresh token is no longer accepted)."""


class BeProductUnavailable(BeProductError):
    """BeProduct did not answer successfully, even after retries; try again later."""


class BeProductThrottled(BeProductUnavailable):
    """BeProduct's rate limit is used up for longer than this process waits; try again after it
    resets."""

    def __init__(self, message: str | None = None, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds until the limit resets


class BeProductNotFound(BeProductError):
    """BeProduct has no such object."""


class BeProductRejected(BeProductError):
    """BeProduct rejected the request."""

    def __init__(
        self, message: str | None = None, *, detail: str | None = None, body: object = None
    ) -> None:
        super().__init__(message)
        # BeProduct's own short explanation, kept apart from the message: reverse sync stores
        # it with the rejected change request; logs and CLI errors never show a response body.
        self.message = detail
        self.body = body
