#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server (Debian's `postgresql` package) for tests that need a
# real database, e.g. ASE's PostgreSQL backend (`ase.db.connect("postgresql://...")`).
#
#   scripts/postgres.sh install   apt-get install postgresql if the server is missing
#   scripts/postgres.sh start     fresh cluster, role+db facetflow; prints the URL last
#   scripts/postgres.sh url       prints the URL
#   scripts/postgres.sh status    exit 0 when the server accepts connections
#   scripts/postgres.sh stop      fast shutdown; no server is left behind
#
# Settings (environment):
#   FACETFLOW_PG_DIR   state dir: data/, server.log and the unix socket (/tmp/facetflow-pg)
#   FACETFLOW_PG_PORT  TCP port, bound to 127.0.0.1 only (55432)
#   FACETFLOW_PG_BIN   directory with initdb/pg_ctl/postgres (found automatically)
#
# The cluster is disposable: `start` wipes and re-creates it unless a server from this
# state dir is already up, and durability is turned off (fsync=off) for speed. Everything
# but the URL goes to stderr, so `url=$(scripts/postgres.sh start)` works.
set -euo pipefail

PG_DIR=${FACETFLOW_PG_DIR:-/tmp/facetflow-pg}
PG_PORT=${FACETFLOW_PG_PORT:-55432}
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/server.log
DB_NAME=facetflow
DB_USER=facetflow
DB_PASSWORD=facetflow
URL="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
START_TIMEOUT=60 # seconds to wait for the server to accept connections

# Connection settings from the caller's environment must not leak into our clients.
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGDATA PGOPTIONS || true

log() { echo "postgres.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Directory holding the server binaries (initdb, pg_ctl, postgres); empty if none.
find_bindir() {
  local d
  for d in "${FACETFLOW_PG_BIN:-}" /usr/lib/postgresql/15/bin \
    "$(pg_config --bindir 2>/dev/null || true)"; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return 0
    fi
  done
  # Another major version installed by Debian: take the newest.
  for d in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 0
}

cmd_install() {
  local d
  d=$(find_bindir)
  if [ -n "$d" ] && [ -x "$d/psql" ]; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "PostgreSQL server not found; as root run: apt-get install postgresql"
  log "apt-get install postgresql"
  # Debian's postinst tries to start a default 'main' cluster on 5432; in a container
  # without an init system (policy-rc.d) that start is skipped, which is what we want.
  # (`postgresql` pulls postgresql-15 and postgresql-client-15: initdb, pg_ctl, psql.)
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql >/dev/null
  [ -n "$(find_bindir)" ] || die "postgresql installed but initdb/pg_ctl not found"
}

# PostgreSQL refuses to run as root: as root, run server tools as the `postgres` system
# user (created by the Debian package); as anyone else, run them as ourselves.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

BINDIR=""
need_bindir() {
  BINDIR=$(find_bindir)
  [ -n "$BINDIR" ] || die "PostgreSQL server not found (run: $0 install)"
}

# 0 if a postmaster is running on our data directory. Like `pg_ctl status`, but a
# postmaster that was killed and lingers as a zombie (containers whose PID 1 reaps
# nothing) or a recycled pid counts as not running.
server_running() {
  local pid
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] || return 1
  grep -qE '^[0-9]+ \(postgres\) [^Z]' "/proc/$pid/stat" 2>/dev/null
}

# 0 if the facetflow role can log in to the facetflow database over TCP.
accepting() {
  local psql=psql
  [ -x "${BINDIR:-/nonexistent}/psql" ] && psql=$BINDIR/psql
  PGCONNECT_TIMEOUT=3 "$psql" "$URL" -X -A -t -q -c 'SELECT 1' >/dev/null 2>&1
}

cmd_status() {
  BINDIR=$(find_bindir)
  accepting || return 1
}

cmd_url() {
  echo "$URL"
}

# Fresh cluster in $PG_DATA, owned by the user the server runs as.
init_cluster() {
  # Wipe only a directory this script made (marker file) or an empty one.
  if [ -d "$PG_DIR" ] && [ ! -f "$PG_DIR/.facetflow-pg" ] &&
    [ -n "$(ls -A "$PG_DIR")" ]; then
    die "$PG_DIR exists and was not made by $0; refusing to wipe it"
  fi
  rm -rf "$PG_DIR"
  mkdir -p "$PG_DIR"
  chmod 700 "$PG_DIR"
  touch "$PG_DIR/.facetflow-pg"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' system user (run: $0 install)"
    chown postgres: "$PG_DIR"
    as_pg test -w "$PG_DIR" ||
      die "user postgres cannot write $PG_DIR (a parent directory is not searchable?)"
  fi
  # Superuser `postgres` needs no password over the unix socket (trust; the socket lives
  # in the 0700 state dir); TCP logins need a password (scram-sha-256).
  as_pg "$BINDIR/initdb" -D "$PG_DATA" -U postgres --encoding=UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
    {
      cat "$PG_DIR/initdb.log" >&2
      die "initdb failed"
    }
  as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- facetflow throwaway test server (scripts/postgres.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
password_encryption = 'scram-sha-256'
# disposable data: skip durability work
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  scram-sha-256
EOF
}

cmd_start() {
  cmd_install
  need_bindir
  # One start at a time (parallel test jobs); the lock file sits beside the state dir.
  mkdir -p "$(dirname "$PG_DIR")"
  exec 9>"$PG_DIR.lock"
  flock -w "$START_TIMEOUT" 9 || die "timed out waiting for another start"

  if server_running && accepting; then
    log "already running"
    echo "$URL"
    return 0
  fi
  if server_running; then # up but not usable: throw it away
    log "server in $PG_DATA is not accepting connections; restarting from scratch"
    as_pg "$BINDIR/pg_ctl" stop -D "$PG_DATA" -m immediate -w >/dev/null 2>&1 || true
  fi
  if accepting; then
    die "something else already serves $URL (another FACETFLOW_PG_DIR?)"
  fi

  local t0=$SECONDS
  init_cluster
  # -w waits for the postmaster itself; the TCP login check below is what counts.
  # 9>&-: the server must not inherit (and so hold forever) the start lock.
  if ! as_pg "$BINDIR/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" \
    >/dev/null 2>&1 9>&-; then
    tail -n 20 "$PG_LOG" >&2 || true
    die "server did not start (port $PG_PORT in use?); log: $PG_LOG"
  fi
  as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres \
    -d postgres >/dev/null <<EOF
CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD';
CREATE DATABASE $DB_NAME OWNER $DB_USER;
EOF
  local deadline=$((SECONDS + START_TIMEOUT))
  until accepting; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$PG_LOG" >&2 || true
      die "server started but $URL does not accept connections; log: $PG_LOG"
    fi
    sleep 0.2
  done
  log "PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') up in $((SECONDS - t0)) s, data in $PG_DATA"
  echo "$URL"
}

cmd_stop() {
  if ! server_running; then
    log "not running"
    return 0
  fi
  need_bindir
  if ! as_pg "$BINDIR/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 30 >/dev/null 2>&1; then
    log "fast shutdown timed out; stopping immediately"
    as_pg "$BINDIR/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 30 >/dev/null 2>&1 || true
  fi
  ! server_running || die "server in $PG_DATA is still running"
  log "stopped"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
url) cmd_url ;;
*)
  echo "usage: $0 {install|start|stop|status|url}" >&2
  exit 2
  ;;
esac
