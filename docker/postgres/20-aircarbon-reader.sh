#!/bin/sh
# The analysts' read-only PostgreSQL role for the DuckLake catalog (docs/deployment.md).
#
# Run once by the postgres container on an empty volume (docker-entrypoint-initdb.d, after
# 10-aircarbon.sql has created the catalog database). Read-only sessions (`aircarbon sql`,
# aircarbon.analyst.connect()) log in as this role when AIRCARBON_WAREHOUSE_READER_USER is set:
# it may read every catalog table, now and later (default privileges for the tables DuckLake
# creates as the lake grows), and change none, whatever statement reaches the server.
#
# Environment: POSTGRES_USER (the writer, owner of the catalog's tables), AIRCARBON_LAKE_DB
# (default aircarbon_lake), AIRCARBON_WAREHOUSE_READER_USER (default aircarbon_reader),
# AIRCARBON_WAREHOUSE_READER_PASSWORD (required). PGHOST/PGPORT as libpq reads them.
set -eu
: "${AIRCARBON_WAREHOUSE_READER_PASSWORD:?set AIRCARBON_WAREHOUSE_READER_PASSWORD in docker/.env}"
case "$AIRCARBON_WAREHOUSE_READER_PASSWORD" in
    change-me*) echo "refusing the placeholder AIRCARBON_WAREHOUSE_READER_PASSWORD" >&2; exit 1 ;;
esac
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${AIRCARBON_LAKE_DB:-aircarbon_lake}" \
    -v reader="${AIRCARBON_WAREHOUSE_READER_USER:-aircarbon_reader}" \
    -v password="$AIRCARBON_WAREHOUSE_READER_PASSWORD" \
    -v writer="$POSTGRES_USER" \
    -v lake_db="${AIRCARBON_LAKE_DB:-aircarbon_lake}" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION;
REVOKE ALL ON DATABASE :"lake_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"lake_db" TO :"writer", :"reader";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"writer" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
SQL
