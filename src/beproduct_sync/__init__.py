"""beproduct-sync: keeps a PostgreSQL ``ops`` schema in step with BeProduct tracking webhooks."""

__version__ = "0.1.0"
