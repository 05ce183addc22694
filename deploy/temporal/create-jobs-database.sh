#!/bin/sh
# Creates the jobs database (the system of record of every job) on the PostgreSQL server Temporal uses, as a
# database of its own with a role of its own, so the service never holds Temporal's credentials. Idempotent: it
# runs on every `docker compose up`, and sets the role's password to JOBS_DATABASE_PASSWORD each time. The API and
# worker apply the jobs database's schema themselves, at start (src/jobs-database/migrations.ts).
set -eu
: "${PGHOST:?}" "${PGUSER:?}" "${PGPASSWORD:?}" "${JOBS_DATABASE:?}" "${JOBS_DATABASE_USER:?}" "${JOBS_DATABASE_PASSWORD:?}"

i=1
until pg_isready -q; do
  if [ "$i" -ge 60 ]; then
    echo "create-jobs-database: PostgreSQL at $PGHOST did not answer" >&2
    exit 1
  fi
  i=$((i + 1))
  sleep 2
done

psql -v ON_ERROR_STOP=1 -d postgres \
  -v user="$JOBS_DATABASE_USER" -v password="$JOBS_DATABASE_PASSWORD" -v database="$JOBS_DATABASE" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
SQL
echo "create-jobs-database: $JOBS_DATABASE ready for $JOBS_DATABASE_USER"
