"""Settings: read once from the environment (and `.env`), secrets wrapped so `repr` hides them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("beproduct-sync"))


class Settings(BaseSettings):
    """All configuration; every field maps to the environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; empty means an embedded server."
    )
    beproduct_sync_data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded PostgreSQL keeps its data.",
    )
    beproduct_sync_date_timezone: str = Field(
        default="UTC",
        description="Zone for the *_date of a timestamp with an explicit non-zero offset;"
        " BeProduct's Z-labelled calendar dates keep the date written (see model.times).",
    )
    beproduct_sync_auto_migrate: bool = Field(
        default=True, description="Apply pending migrations when a command starts."
    )
    beproduct_sync_migrate_lock_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest a start waits for another process applying migrations, then fails.",
    )
    beproduct_sync_log_level: str = Field(default="INFO")
    beproduct_sync_log_format: str = Field(default="auto", description="json, console or auto.")

    # Webhook receiver (see web/app.py).
    beproduct_webhook_secret: SecretStr | None = Field(
        default=None, description="Bearer secret(s), comma-separated for rotation."
    )
    beproduct_webhook_signing_secret: SecretStr | None = Field(
        default=None, description="Standard Webhooks signing secret (whsec_...); optional."
    )
    beproduct_sync_max_body_bytes: int = Field(default=1024 * 1024)
    beproduct_sync_body_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A webhook body must arrive within this long (else 408)."
    )
    beproduct_sync_max_concurrent_requests: int = Field(
        default=64,
        ge=1,
        description="Webhook requests handled at once; more are answered 503 with Retry-After.",
    )
    beproduct_sync_receive_linger_seconds: float = Field(
        default=0.001,
        ge=0,
        le=0.05,
        description="How long a webhook waits for others to share its commit (group commit).",
    )
    beproduct_sync_api_tokens: SecretStr | None = Field(
        default=None,
        description="Bearer tokens (comma-separated) that may read /api/v1 and the dashboard.",
    )
    beproduct_sync_api_write_tokens: SecretStr | None = Field(
        default=None,
        description="Bearer tokens (comma-separated) that may also change things (reverse sync,"
        " replay); a write token can read too.",
    )

    # Dashboard (see web/dashboard/).
    beproduct_sync_dashboard_session_key: SecretStr | None = Field(
        default=None,
        description="Key that signs dashboard session cookies; unset: a random key per process"
        " (sessions end when `serve` restarts). Set it when several receivers share a URL.",
    )
    beproduct_sync_dashboard_session_hours: float = Field(
        default=12.0, gt=0, description="How long a dashboard sign-in lasts."
    )
    beproduct_sync_dashboard_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often dashboard panels refresh themselves."
    )

    # Workers (see apply/worker.py).
    beproduct_sync_workers: int = Field(default=2, ge=0)
    beproduct_sync_worker_processes: int = Field(
        default=1,
        ge=0,
        description="`serve`: run workers in this many child processes (0 = in the receiver's).",
    )
    beproduct_sync_worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="`serve`: nice increment of its worker child processes, so the receiver"
        " gets the CPU first (0 = same priority).",
    )
    beproduct_sync_batch_size: int = Field(default=100, ge=1)
    beproduct_sync_max_attempts: int = Field(default=8, ge=1)
    beproduct_sync_retry_base_seconds: float = Field(default=2.0, gt=0)
    beproduct_sync_retry_max_seconds: float = Field(default=3600.0, gt=0)
    beproduct_sync_apply_batch_size: int = Field(
        default=50, ge=1, description="Events a worker applies per transaction (1 = one by one)."
    )
    beproduct_sync_lease_seconds: float = Field(default=60.0, gt=0)
    beproduct_sync_worker_dead_after_seconds: float = Field(
        default=3.0,
        gt=0,
        description="A worker process whose heartbeat (about once a second) is older than this"
        " has crashed: its claimed events are taken over at once, whatever their lease.",
    )
    beproduct_sync_poll_seconds: float = Field(default=1.0, gt=0)

    # BeProduct API (see api/client.py).
    beproduct_company: str | None = None
    beproduct_client_id: str | None = None
    beproduct_client_secret: SecretStr | None = None
    beproduct_refresh_token: SecretStr | None = None
    beproduct_api_url: str = "https://developers.beproduct.com"
    beproduct_token_url: str = "https://id.winks.io/ids/connect/token"  # noqa: S105 - a URL

    beproduct_api_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Request timeout; long because some BeProduct views and large pages take"
        " minutes (BeProduct's own SDK waits 5).",
    )
    beproduct_api_connect_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long to wait for a connection to BeProduct."
    )
    beproduct_api_max_pause_seconds: float = Field(
        default=90_000.0,
        ge=0,
        description="Longest a backfill or reconcile request waits out BeProduct's rate limits"
        " (a day window plus an hour); a longer wait fails with a readable error.",
    )
    beproduct_api_rate_reserve: int = Field(
        default=5,
        ge=0,
        description="When X-RateLimit-Remaining falls to this, spread requests over the time left"
        " in the window.",
    )
    beproduct_api_max_concurrency: int = Field(default=4, ge=1)
    beproduct_api_max_retries: int = Field(default=6, ge=0)
    beproduct_api_backoff_base_seconds: float = Field(
        default=0.5, gt=0, description="First wait before retrying an API call (then doubling)."
    )
    beproduct_api_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait between API retries (Retry-After wins)."
    )

    # Enrichment (see api/jobs.py): refetch plan/folder details older than this; 0 = never.
    beproduct_sync_enrich_ttl_seconds: float = Field(default=86400.0, ge=0)
    # Retention inside `serve` (see inbox/retention.py); 0 = off.
    beproduct_sync_retention_days: float = Field(
        default=0.0,
        ge=0,
        description="`serve` prunes applied, stale and ignored events (and import errors) older"
        " than this many days, hourly; 0 keeps everything.",
    )
    # Reconciliation inside `serve`; 0 = off.
    beproduct_sync_reconcile_interval_seconds: float = Field(default=0.0, ge=0)

    # HTTP service (see web/app.py and cli/serve.py).
    beproduct_sync_insecure_dev: bool = Field(
        default=False, description="Accept unauthenticated webhooks (local development only)."
    )
    beproduct_sync_host: str = Field(default="127.0.0.1", description="Address `serve` binds.")
    beproduct_sync_port: int = Field(default=8000, ge=0, le=65535)
    beproduct_sync_pool_max_size: int = Field(
        default=10, ge=1, description="Most database connections the receiver holds."
    )
    beproduct_sync_pool_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Wait this long for a database connection (pooled, then a fresh one)"
        " before answering 503.",
    )
    beproduct_sync_access_log: bool = Field(default=False, description="Log every HTTP request.")

    # Workers, continued (see apply/worker.py).
    beproduct_sync_listen: bool = Field(
        default=True,
        description="Wake workers with LISTEN/NOTIFY; set false behind a transaction-mode"
        " pooler, where LISTEN does not work (workers then only poll).",
    )
    beproduct_sync_prepare: bool | None = Field(
        default=None,
        description="Workers prepare the statements they repeat (server-side prepared"
        " statements); unset: on exactly when BEPRODUCT_SYNC_LISTEN is (a direct or session"
        " connection), off behind a transaction-mode pooler.",
    )
    beproduct_sync_fault_style_numbers: str = Field(
        default="",
        description="Tests and chaos drills only: comma-separated style numbers whose events"
        " fail when applied.",
    )

    # Enrichment, continued (see api/jobs.py).
    beproduct_sync_enrich_batch_size: int = Field(
        default=20, ge=1, description="Enrichment jobs (API fetches) claimed and run at once."
    )
    beproduct_sync_enrich_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the enricher looks for due jobs."
    )
    beproduct_sync_enrich_lease_seconds: float = Field(
        default=300.0, gt=0, description="A claimed job returns to the queue after this long."
    )
    beproduct_sync_enrich_retry_base_seconds: float = Field(
        default=5.0, gt=0, description="First wait after a failed API fetch (then doubling)."
    )
    beproduct_sync_enrich_retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between fetch attempts; jobs never expire."
    )

    # Reverse sync (see api/outbox.py).
    beproduct_sync_reverse_sync: bool = Field(
        default=True,
        description="Send change requests (ops.timeline_change_request) to BeProduct from"
        " `worker` and `serve`'s workers when the API is configured; false: record only.",
    )
    beproduct_sync_outbox_batch_size: int = Field(
        default=200, ge=1, description="Change requests claimed per batch (one Edit per plan)."
    )
    beproduct_sync_outbox_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the sender looks for due change requests."
    )
    beproduct_sync_outbox_lease_seconds: float = Field(
        default=120.0, gt=0, description="A claimed change request is taken over after this long."
    )
    beproduct_sync_outbox_max_attempts: int = Field(
        default=8, ge=1, description="Transient send failures before a request is dead."
    )
    beproduct_sync_outbox_retry_base_seconds: float = Field(default=5.0, gt=0)
    beproduct_sync_outbox_retry_max_seconds: float = Field(default=600.0, gt=0)
    beproduct_sync_outbox_confirm_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A sent request not confirmed by BeProduct's webhook within this long is"
        " confirmed by reading the milestone back from the API.",
    )

    @field_validator("beproduct_sync_date_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as UTC") from exc
        return value

    @property
    def webhook_secrets(self) -> list[str]:
        """The accepted bearer secrets, in configured order."""
        return _split(self.beproduct_webhook_secret)

    @property
    def api_read_tokens(self) -> list[str]:
        """Tokens that may read the API and the dashboard: read tokens, then write tokens."""
        return _split(self.beproduct_sync_api_tokens) + self.api_write_tokens

    @property
    def api_write_tokens(self) -> list[str]:
        """Tokens that may also change things through the API and the dashboard."""
        return _split(self.beproduct_sync_api_write_tokens)

    @property
    def worker_prepare(self) -> bool:
        """Whether worker connections use server-side prepared statements."""
        prepare = self.beproduct_sync_prepare
        return self.beproduct_sync_listen if prepare is None else prepare

    @property
    def date_zone(self) -> ZoneInfo:
        """The zone used to turn BeProduct timestamps into calendar dates."""
        return ZoneInfo(self.beproduct_sync_date_timezone)

    @property
    def api_configured(self) -> bool:
        """True when enough BeProduct API credentials are set to call the API."""
        return bool(
            self.beproduct_company
            and self.beproduct_client_id
            and self.beproduct_client_secret
            and self.beproduct_refresh_token
        )


def _split(value: SecretStr | None) -> list[str]:
    """The non-empty, stripped entries of a comma-separated secret list."""
    if value is None:
        return []
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return Settings()
