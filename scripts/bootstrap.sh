#!/usr/bin/env bash
# Create .venv and install the project's dependencies; re-installs only when pyproject.toml changes.
# `bootstrap.sh bench` (make bench) also installs the benchmark's plotting package (matplotlib).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($PYTHON --version)" >&2
  "$PYTHON" -m venv .venv
fi
hash=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
stamp=".venv/.installed-$hash"
if [ ! -f "$stamp" ]; then
  echo "Installing Python packages into .venv ..." >&2
  # Not editable (-e): the project installs no package (it runs from this folder), and an
  # editable install's import hook cost every Python process about 14 ms at start-up, each job
  # run's included (issue 13's profile: a sixth of a token run's Python).
  .venv/bin/pip install -q ".[postgres,redis,test]" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  .venv/bin/python -c "import django, django_q, django_htmx, template_partials, jsonschema, cryptography, jwt, playwright, ibm_secrets_manager_sdk" \
    || { echo "Package installation failed; see the messages above." >&2; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# The sample jobs run in the sandbox, where their folder is read-only: without bytecode compiled
# here, every run would compile their modules again (about 5 ms of each run's CPU, issue 13).
# compileall rewrites only what changed, and writes even under PYTHONDONTWRITEBYTECODE.
.venv/bin/python -m compileall -q engines_app/sample_jobs
if [ "${1:-}" = bench ] && [ ! -f "$stamp-bench" ]; then
  echo "Installing the benchmark's packages into .venv ..." >&2
  .venv/bin/pip install -q ".[bench]" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  .venv/bin/python -c "import matplotlib" \
    || { echo "Package installation failed; see the messages above." >&2; exit 1; }
  touch "$stamp-bench"
fi
