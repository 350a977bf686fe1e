#!/usr/bin/env bash
# `make run`: install, migrate, seed the demo, then serve the console and the worker together.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Jobs run in a bubblewrap sandbox where it is installed; without it they run unsandboxed, and
# the console says so (README: "Job sandbox").
bash scripts/system-packages.sh bwrap:bubblewrap || echo "Continuing without the job sandbox." >&2
export DEBUG=${DEBUG:-1}
export PORT=${PORT:-8000}
export SM_PUBLIC_URL=${SM_PUBLIC_URL:-http://127.0.0.1:$PORT}
py=.venv/bin/python
$py manage.py migrate --noinput -v0
$py manage.py setup_schedules
$py manage.py seed_demo
echo
$py manage.py ensure_admin
echo "Open http://127.0.0.1:$PORT/ and sign in with the admin login above."
echo "Data directory: ${SM_DATA_DIR:-var/}"
echo
exec $py manage.py serve --port "$PORT"
