#!/bin/sh
# Run by the postgres image once, when its data volume is first initialised (and safe to run
# again by hand): the service's group role, which the migrations grant to, and the login role
# the receiver and the workers connect as. The migrations themselves run as the owner
# (`postgres`), from the `migrate` service.
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$BEPRODUCT_SYNC_APP_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
SELECT 'CREATE ROLE beproduct_sync_service NOLOGIN'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') \gexec
SELECT format('CREATE ROLE beproduct_sync_app LOGIN PASSWORD %L', :'app_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_app') \gexec
GRANT beproduct_sync_service TO beproduct_sync_app;
SQL
