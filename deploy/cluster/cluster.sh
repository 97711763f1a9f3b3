#!/usr/bin/env bash
# steward's production topology on this machine, with no Docker: the official Temporal server (bin/temporal-server,
# built from go.mod's go.temporal.io/server) on the local PostgreSQL, two `steward worker`s and two `steward api`s.
#   deploy/cluster/cluster.sh up       what `make cluster` runs (after building bin/): schemas, server, migrate, setup, processes
#   deploy/cluster/cluster.sh down     what `make cluster-stop` runs: SIGTERM to each process, SIGKILL after 30 s
#   deploy/cluster/cluster.sh status   which processes run
# `up` is idempotent: the schemas are created or upgraded (deploy/temporal/schema.sh), and a process already running
# is left alone. Pid and log files are in STEWARD_CLUSTER_DIR (default data/cluster).
#
# Environment, with defaults:
#   POSTGRES_SEEDS=127.0.0.1 DB_PORT=5432 POSTGRES_USER=postgres POSTGRES_PWD=   PostgreSQL, for Temporal and steward
#   DBNAME=temporal VISIBILITY_DBNAME=temporal_visibility                       Temporal's databases
#   STEWARD_CLUSTER_DB=steward                                                  steward's database (created if missing)
#   DATABASE_URL=postgres://POSTGRES_USER@POSTGRES_SEEDS:DB_PORT/STEWARD_CLUSTER_DB?sslmode=disable
#   FRONTEND_GRPC_PORT=17233 FRONTEND_HTTP_PORT=17243 (and the others of deploy/temporal/config.yaml)
#   STEWARD_CLUSTER_API_PORTS="18081 18082"  STEWARD_CLUSTER_WORKERS=2  TEMPORAL_NAMESPACE=default
#   STEWARD_MARKETPLACE_SECRET (default: generated once into STEWARD_CLUSTER_DIR/marketplace-secret)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
RUN=${STEWARD_CLUSTER_DIR:-$ROOT/data/cluster}
BIN=$ROOT/bin
CONFIG=deploy/temporal/config.yaml

export POSTGRES_SEEDS=${POSTGRES_SEEDS:-127.0.0.1} DB_PORT=${DB_PORT:-5432} POSTGRES_USER=${POSTGRES_USER:-postgres}
export POSTGRES_PWD=${POSTGRES_PWD:-} DBNAME=${DBNAME:-temporal} VISIBILITY_DBNAME=${VISIBILITY_DBNAME:-temporal_visibility}
export FRONTEND_GRPC_PORT=${FRONTEND_GRPC_PORT:-17233} FRONTEND_HTTP_PORT=${FRONTEND_HTTP_PORT:-17243}
STEWARD_DB=${STEWARD_CLUSTER_DB:-steward}
API_PORTS=${STEWARD_CLUSTER_API_PORTS:-18081 18082}
WORKERS=${STEWARD_CLUSTER_WORKERS:-2}
NAMESPACE=${TEMPORAL_NAMESPACE:-default}

say() { printf '== %s\n' "$*"; }
die() {
  printf 'cluster: %s\n' "$*" >&2
  exit 1
}

# running NAME: succeeds when NAME's pid file names a live process of ours.
running() {
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$BIN/"
}

# start NAME ENV=VALUE... -- CMD ARGS...: starts CMD in the background in its own session, output appended to
# NAME.log, unless NAME runs already.
start() {
  local name=$1
  shift
  if running "$name"; then
    say "$name already running (pid $(cat "$RUN/$name.pid"))"
    return
  fi
  local env=()
  while [ "$1" != "--" ]; do
    env+=("$1")
    shift
  done
  shift
  printf '\n=== start at %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$RUN/$name.log"
  env "${env[@]}" setsid "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  say "$name started (pid $!, log ${RUN#"$ROOT"/}/$name.log)"
}

# serverError prints why temporal-server stopped: its last error lines (a schema it cannot use says which
# version it expected).
serverError() {
  local log=$RUN/temporal.log
  grep -E 'Unable to|compatibility check failed|"level":"fatal"' "$log" | tail -n 3 >&2 ||
    tail -n 20 "$log" >&2
  if grep -q 'schema version compatibility check failed' "$log"; then
    echo "cluster: the Temporal databases' schema is not the one this server needs: deploy/temporal/schema.sh upgrades it (make cluster runs it first); a database newer than this server needs a newer server" >&2
  fi
}

# waitPort PORT NAME: waits up to 60 s until something listens on 127.0.0.1:PORT, failing if NAME's process exits.
waitPort() {
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    running "$2" || return 1
    sleep 0.5
  done
  return 1
}

# readyz PORT: the HTTP status of GET /readyz on 127.0.0.1:PORT.
readyz() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r -t 5 line <&3 || true
  exec 3>&-
  printf '%s' "$line" | awk '{print $2}'
}

up() {
  mkdir -p "$RUN"
  chmod 700 "$RUN"
  for b in steward temporal-server temporal-sql-tool; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run make cluster (it builds bin/ first)"
  done

  say "Temporal's schemas on PostgreSQL at $POSTGRES_SEEDS:$DB_PORT (temporal-sql-tool)"
  TEMPORAL_SQL_TOOL=$BIN/temporal-sql-tool sh deploy/temporal/schema.sh
  TEMPORAL_SQL_TOOL=$BIN/temporal-sql-tool SQL_PASSWORD=$POSTGRES_PWD "$BIN/temporal-sql-tool" --plugin postgres12 \
    --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$STEWARD_DB" create-database >/dev/null 2>&1 ||
    die "could not create steward's database $STEWARD_DB on $POSTGRES_SEEDS:$DB_PORT"

  start temporal -- "$BIN/temporal-server" --config-file "$CONFIG" --allow-no-auth start
  if ! waitPort "$FRONTEND_GRPC_PORT" temporal; then
    running temporal || {
      echo "cluster: temporal-server stopped at start:" >&2
      serverError
      exit 1
    }
    die "temporal-server does not listen on 127.0.0.1:$FRONTEND_GRPC_PORT after 60 s; see ${RUN#"$ROOT"/}/temporal.log"
  fi

  local pw=""
  [ -n "$POSTGRES_PWD" ] && pw=":$POSTGRES_PWD"
  export DATABASE_URL=${DATABASE_URL:-postgres://$POSTGRES_USER$pw@$POSTGRES_SEEDS:$DB_PORT/$STEWARD_DB?sslmode=disable}
  export TEMPORAL_ADDRESS=127.0.0.1:$FRONTEND_GRPC_PORT TEMPORAL_NAMESPACE=$NAMESPACE
  if [ -z "${STEWARD_MARKETPLACE_SECRET:-}" ]; then
    [ -s "$RUN/marketplace-secret" ] || (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$RUN/marketplace-secret")
    STEWARD_MARKETPLACE_SECRET=$(cat "$RUN/marketplace-secret")
  fi
  export STEWARD_MARKETPLACE_SECRET

  say "steward migrate"
  "$BIN/steward" migrate
  say "steward setup (namespace $NAMESPACE, search attributes)"
  "$BIN/steward" setup

  local names=()
  for i in $(seq 1 "$WORKERS"); do
    start "worker-$i" -- "$BIN/steward" worker
    names+=("worker-$i")
  done
  local i=0
  for port in $API_PORTS; do
    i=$((i + 1))
    start "api-$i" "STEWARD_API_ADDR=127.0.0.1:$port" -- "$BIN/steward" api
    names+=("api-$i")
  done

  i=0
  for port in $API_PORTS; do
    i=$((i + 1))
    local status=""
    for _ in $(seq 1 120); do
      status=$(readyz "$port" 2>/dev/null || true)
      [ "$status" = 200 ] && break
      running "api-$i" || break
      sleep 0.5
    done
    if [ "$status" != 200 ]; then
      echo "cluster: api-$i (127.0.0.1:$port) is not ready (readyz: ${status:-no answer}):" >&2
      tail -n 20 "$RUN/api-$i.log" >&2
      exit 1
    fi
  done
  sleep 1
  for n in "${names[@]}"; do
    running "$n" || {
      echo "cluster: $n stopped:" >&2
      tail -n 20 "$RUN/$n.log" >&2
      exit 1
    }
  done

  say "cluster up"
  echo "  Temporal frontend  $TEMPORAL_ADDRESS (namespace $NAMESPACE; HTTP 127.0.0.1:$FRONTEND_HTTP_PORT)"
  i=0
  for port in $API_PORTS; do
    i=$((i + 1))
    echo "  steward api-$i      http://127.0.0.1:$port"
  done
  echo "  steward workers    $WORKERS on task queue steward"
  echo "  databases          ${DATABASE_URL%%\?*} (steward); $DBNAME, $VISIBILITY_DBNAME (Temporal)"
  echo "  marketplace secret ${RUN#"$ROOT"/}/marketplace-secret (or \$STEWARD_MARKETPLACE_SECRET)"
  echo "  pid and log files  ${RUN#"$ROOT"/}/"
  echo "  stop with          make cluster-stop"
}

# stop NAME: SIGTERM, then SIGKILL after 30 s.
stop() {
  local name=$1 pid
  if ! running "$name"; then
    rm -f "$RUN/$name.pid"
    return
  fi
  pid=$(cat "$RUN/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    say "$name killed (pid $pid) after 30 s"
  else
    say "$name stopped (pid $pid)"
  fi
  rm -f "$RUN/$name.pid"
}

down() {
  [ -d "$RUN" ] || return 0
  local f
  for f in "$RUN"/api-*.pid "$RUN"/worker-*.pid; do
    [ -e "$f" ] && stop "$(basename "$f" .pid)"
  done
  stop temporal
}

status() {
  local f n
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .pid)
    if running "$n"; then echo "$n running (pid $(cat "$f"))"; else echo "$n not running"; fi
  done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*) die "usage: $0 up|down|status" ;;
esac
