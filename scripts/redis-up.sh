#!/usr/bin/env bash
# Start a throwaway Redis on loopback (no persistence) and print REDIS_URL.
# usage: export REDIS_URL=$(bash scripts/redis-up.sh)
#        bash scripts/redis-up.sh status   # exit status 0 while that server runs
#        bash scripts/redis-up.sh stop
set -euo pipefail
REDISPORT=${REDISPORT:-6380}
REDISROOT=${REDISROOT:-/tmp/sm-redis-$REDISPORT}
action=${1:-start}
PIDFILE=$REDISROOT/redis.pid
# Ours: the pid file names a live redis-server that answers on the port.
running() {
  [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
    && command -v redis-cli >/dev/null \
    && [ "$(redis-cli -h 127.0.0.1 -p "$REDISPORT" ping 2>/dev/null)" = PONG ]
}
case $action in
  status) running ;;
  stop)
    running || exit 0
    pid=$(cat "$PIDFILE")
    redis-cli -h 127.0.0.1 -p "$REDISPORT" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.1
    done
    echo "redis-server (pid $pid) did not stop within 10 s" >&2
    exit 1
    ;;
  start)
    if ! command -v redis-server >/dev/null; then
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
    fi
    if ! running; then
      install -d -m 0700 "$REDISROOT"
      # Debian's package does not start a server (policy-rc.d); this one is private to the
      # caller: loopback only, nothing saved to disk.
      redis-server --port "$REDISPORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$REDISROOT" --daemonize yes --pidfile "$PIDFILE" --logfile "$REDISROOT/log" >&2
      # Daemonized, it forks before it listens: wait until it answers.
      for _ in $(seq 100); do
        running && break
        sleep 0.1
      done
      running || {
        echo "redis-server did not answer on 127.0.0.1:$REDISPORT; see $REDISROOT/log" >&2
        exit 1
      }
    fi
    echo "redis://127.0.0.1:$REDISPORT/0"
    ;;
  *)
    echo "usage: $0 [start|status|stop]" >&2
    exit 2
    ;;
esac
