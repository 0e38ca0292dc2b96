#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the test suite, installing
# it from Debian's packages when it is missing. Prints the SQLAlchemy URL on
# stdout; exits non-zero (with a reason on stderr) when it cannot.
#   usage: scripts/postgres-for-tests.sh start|stop
set -euo pipefail
PGDATA_DIR=${SPINE_CDS_PGDATA:-/tmp/spine-cds-pg}
PORT=${SPINE_CDS_PGPORT:-55432}
cmd=${1:-start}

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

BIN=$(find_bin || true)
if [ "$cmd" = stop ]; then
  [ -n "$BIN" ] && [ -d "$PGDATA_DIR" ] && as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing PostgreSQL from Debian's packages..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
    BIN=$(find_bin)
  else
    echo "PostgreSQL is not installed and cannot be installed here (need root and apt-get)" >&2
    exit 1
  fi
fi
if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
  rm -rf "$PGDATA_DIR"; mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR"
  as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U spine --auth=trust -E UTF8 >/dev/null
fi
if ! as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -w -t 30 \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on" -l "$PGDATA_DIR/server.log" start >/dev/null
fi
as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U spine -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname='spine_cds_test'" | grep -q 1 \
  || as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U spine spine_cds_test
echo "postgresql+psycopg://spine@127.0.0.1:$PORT/spine_cds_test"
