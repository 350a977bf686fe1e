#!/usr/bin/env bash
# `make test`: install what the tests need (Debian's chromium and bubblewrap), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's chromium for the browser tests, bubblewrap for the job sandbox tests.
needs=(bwrap:bubblewrap)
if [ -z "${CHROMIUM_PATH:-}" ]; then needs+=(/usr/bin/chromium:chromium); fi
bash scripts/system-packages.sh "${needs[@]}" || {
  echo "(or point CHROMIUM_PATH at a Chromium binary)" >&2
  exit 1
}
bash scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=console.settings_test
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache   # the layers of DESIGN.md (contracts in pyproject.toml)
.venv/bin/mypy .                    # django-stubs; settings in pyproject.toml
.venv/bin/python manage.py check --fail-level WARNING
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null \
  || { echo "Models and migrations differ: run manage.py makemigrations." >&2; exit 1; }
exec .venv/bin/pytest -q "$@"
