#!/usr/bin/env bash
# `make run`: install, record the instance's settings, migrate, seed the demo, then serve the
# console and the worker together.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Jobs run in a bubblewrap sandbox where it is installed; without it they run unsandboxed, and
# the console says so (README: "Job sandbox").
bash scripts/system-packages.sh bwrap:bubblewrap || echo "Continuing without the job sandbox." >&2
py=.venv/bin/python
# The settings: this environment, then what the last `make run` of this data directory used
# ($SM_DATA_DIR/instance.env), then the demo's DEBUG=1 and PORT=8000. They are checked (a bad one
# is one line and exit status 2) and recorded in instance.env (mode 0600), where manage.py finds
# them in a second shell. Exports SM_DATA_DIR and PORT.
exports=$($py -m console.instance prepare)
eval "$exports"
# One `make run` per data directory: the server holds this lock until it stops.
exec 9>>"$SM_DATA_DIR/run.lock"
if ! flock -n 9; then
  echo "The instance in $SM_DATA_DIR is already served by another \`make run\`; stop that one first." >&2
  exit 2
fi
$py manage.py migrate --noinput -v0
$py manage.py setup_schedules
$py manage.py seed_demo
echo
$py manage.py ensure_admin
echo "Open http://127.0.0.1:$PORT/ and sign in with the admin login above."
echo "Data directory: $SM_DATA_DIR (settings in $SM_DATA_DIR/instance.env)"
if [ "$SM_DATA_DIR" = "$(pwd -P)/var" ]; then
  echo "In another shell, .venv/bin/python manage.py ... works on this instance."
else
  echo "In another shell, export SM_DATA_DIR=$SM_DATA_DIR, then .venv/bin/python manage.py ... works on this instance."
fi
echo
exec $py manage.py serve --port "$PORT"
