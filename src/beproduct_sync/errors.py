"""The small exception family the rest of the package raises; each docstring is its message."""

from __future__ import annotations


class SyncError(Exception):
    """beproduct-sync failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(SyncError):
    """The configuration is invalid."""


class DatabaseUnavailable(SyncError):
    """The database cannot be reached; check DATABASE_URL and that the server is running."""


class NotATrackingEvent(SyncError):
    """The body is valid JSON but not a BeProduct tracking event."""


class MalformedEvent(SyncError):
    """The body looks like a tracking event but a required field is missing or invalid."""
