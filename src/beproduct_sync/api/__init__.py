"""Everything that talks to the BeProduct API: the client and its stored refresh token, the
catalog writer, enrichment, backfill and reconciliation."""
