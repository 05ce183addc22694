#!/bin/sh
# Creates Temporal's two PostgreSQL databases, the default store and SQL visibility, and brings each schema to the
# version this admin-tools image ships. Safe on every start and after an image upgrade: `create` ignores an
# existing database, `setup-schema -v 0.0` leaves a versioned schema alone, `update-schema` applies only the
# missing versions. The same steps as Temporal's own compose files (temporalio/samples-server, compose/scripts).
set -eu

# SQL_PASSWORD must be set; it is empty only where the server trusts loopback connections (`npm run cluster`).
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD?}" "${DBNAME:?}" "${VISIBILITY_DBNAME:?}"
port="${DB_PORT:-5432}"
# The release's versioned schema files: where the admin-tools image keeps them, or SCHEMA_DIR (`npm run cluster`
# names the copy scripts/install-temporal-server.sh took from the same release's Go module).
schemas="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

setup() {
  database="$1"
  versions="$2"
  echo "setup-schema: $database ($versions)"
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" --db "$database" create
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" --db "$database" \
    setup-schema -v 0.0
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" --db "$database" \
    update-schema -d "$schemas/$versions/versioned"
}

setup "$DBNAME" temporal
setup "$VISIBILITY_DBNAME" visibility
echo 'setup-schema: done'
