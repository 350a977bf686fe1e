#!/usr/bin/env bash
# Start a throwaway PostgreSQL on loopback (trust auth, fsync off) and print DATABASE_URL.
# usage: export DATABASE_URL=$(bash scripts/pg-up.sh)
#        bash scripts/pg-up.sh status   # exit status 0 while that cluster runs
#        bash scripts/pg-up.sh stop
set -euo pipefail
PGPORT=${PGPORT:-5433}
PGROOT=${PGROOT:-/tmp/sm-pg-$PGPORT}
action=${1:-start}
cd /  # the postgres user cannot read a root-owned working directory
pg_ctl() { runuser -u postgres -- "$BIN/pg_ctl" -D "$PGROOT/data" "$@"; }
case $action in
  status | stop)
    BIN=$( (ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true) | sort -V | tail -1)
    if [ -z "$BIN" ] || [ ! -f "$PGROOT/data/PG_VERSION" ] || ! pg_ctl status >/dev/null 2>&1; then
      [ "$action" = stop ] && exit 0
      exit 1
    fi
    [ "$action" = stop ] && pg_ctl -m fast -w stop >&2
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 [start|status|stop]" >&2
    exit 2
    ;;
esac
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
  install -d -o postgres -g postgres "$PGROOT"
  # C.UTF-8 (built into Debian 12's glibc): independent of the caller's locale, which may not
  # exist on the machine, and the same byte-order collation as SQLite's.
  runuser -u postgres -- "$BIN/initdb" -D "$PGROOT/data" -A trust -U postgres -E UTF8 \
    --locale=C.UTF-8 >/dev/null
fi
if ! pg_ctl status >/dev/null 2>&1; then
  pg_ctl -l "$PGROOT/log" -w -o "-h 127.0.0.1 -p $PGPORT -k $PGROOT -F" start >&2
fi
echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"
