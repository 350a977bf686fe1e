#!/usr/bin/env bash
# `make test`: install what the tests need (Debian's chromium included), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian's chromium for the browser tests ..." >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium. Install it with:" >&2
    echo "    sudo apt-get install -y chromium" >&2
    echo "or point CHROMIUM_PATH at a Chromium binary." >&2
    exit 1
  fi
fi
bash scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=console.settings_test
.venv/bin/ruff check .
.venv/bin/python manage.py check --fail-level WARNING
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null \
  || { echo "Models and migrations differ: run manage.py makemigrations." >&2; exit 1; }
exec .venv/bin/pytest -q "$@"
