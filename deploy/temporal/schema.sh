#!/bin/sh
# Creates, or upgrades to what this temporal-sql-tool knows, the Temporal server's two PostgreSQL databases:
# persistence (DBNAME, default temporal) and SQL visibility (VISIBILITY_DBNAME, default temporal_visibility).
# Idempotent: a database that exists is kept, a schema already at the latest version is left as it is.
# `make cluster` runs it with bin/temporal-sql-tool on the local PostgreSQL; docker-compose.yml runs it in the
# temporalio/admin-tools image (this directory mounted at /etc/temporal/steward); the reliability battery runs
# it for its own databases. POSIX sh: the admin-tools image has busybox, no bash.
#
# Environment (the temporalio images' names): POSTGRES_SEEDS (host, default 127.0.0.1), DB_PORT (5432),
# POSTGRES_USER (postgres), POSTGRES_PWD (empty), DBNAME, VISIBILITY_DBNAME; TEMPORAL_SQL_TOOL names the tool
# (default temporal-sql-tool on PATH). The schemas are the ones embedded in the tool (--schema-name), so the
# tool's version is the schema's version: keep it at the server's (go.mod's go.temporal.io/server).
set -eu

tool=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}
host=${POSTGRES_SEEDS:-127.0.0.1}
port=${DB_PORT:-5432}
user=${POSTGRES_USER:-postgres}
# The tool reads the password from SQL_PASSWORD, which keeps it out of the process list.
SQL_PASSWORD=${POSTGRES_PWD:-}
export SQL_PASSWORD
esc=$(printf '\033')

# sqltool DATABASE ARGS...: runs the tool on DATABASE; on failure prints what the tool said (its errors, without
# its debug lines and colours) and stops.
sqltool() {
  db=$1
  shift
  if ! out=$("$tool" --plugin postgres12 --ep "$host" -p "$port" -u "$user" --db "$db" "$@" 2>&1); then
    echo "schema.sh: temporal-sql-tool $* on database $db at $host:$port failed:" >&2
    clean=$(printf '%s\n' "$out" | sed -e "s/${esc}\[[0-9;]*m//g" -e 's/,* *"logging-call-at": "[^"]*"//')
    errors=$(printf '%s\n' "$clean" | grep -E 'ERROR|FATAL|rror:' || true)
    if [ -n "$errors" ]; then printf '%s\n' "$errors" >&2; else printf '%s\n' "$clean" | grep -v DEBUG | tail -n 20 >&2; fi
    case $1 in
    update-schema)
      echo "schema.sh: the schema version recorded in $db (its schema_version table) does not match its tables, or" \
        "the database is from another Temporal version; this tool applies $schema up to its own version" \
        "($("$tool" --version 2>/dev/null | sed 's/.* //'))." >&2 ;;
    esac
    exit 1
  fi
  printf '%s\n' "$out" | sed "s/${esc}\[[0-9;]*m//g"
}

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db=${pair%%:*}
  schema=postgresql/v12/${pair#*:}
  sqltool "$db" create-database >/dev/null
  sqltool "$db" setup-schema -v 0.0 >/dev/null
  log=$(sqltool "$db" update-schema --schema-name "$schema")
  from=$(printf '%s\n' "$log" | sed -n 's/.*Schema updated from \([0-9.]*\) to .*/\1/p' | head -n1)
  to=$(printf '%s\n' "$log" | sed -n 's/.*Schema updated from [0-9.]* to \([0-9.]*\).*/\1/p' | tail -n1)
  if [ -n "$to" ]; then
    echo "temporal schema: database $db ($schema) upgraded from $from to $to"
  else
    at=$(printf '%s\n' "$log" | sed -n 's/.*found zero updates from current version \([0-9.]*\).*/\1/p' | tail -n1)
    echo "temporal schema: database $db ($schema) already at ${at:-the latest version}"
  fi
done
