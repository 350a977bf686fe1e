#!/usr/bin/env bash
# Start a throwaway PostgreSQL on loopback (trust auth, fsync off) and print DATABASE_URL.
# usage: export DATABASE_URL=$(bash scripts/pg-up.sh)
set -euo pipefail
PGPORT=${PGPORT:-5433}
PGROOT=${PGROOT:-/tmp/sm-pg-$PGPORT}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cd /  # the postgres user cannot read a root-owned working directory
if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
  install -d -o postgres -g postgres "$PGROOT"
  runuser -u postgres -- "$BIN/initdb" -D "$PGROOT/data" -A trust -U postgres -E UTF8 >/dev/null
fi
if ! runuser -u postgres -- "$BIN/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1; then
  runuser -u postgres -- "$BIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w \
    -o "-h 127.0.0.1 -p $PGPORT -k $PGROOT -F" start >&2
fi
echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"
