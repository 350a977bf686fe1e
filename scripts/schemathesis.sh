#!/usr/bin/env bash
# The API fuzzed by schemathesis with a larger budget than `make test` gives it: a separate,
# bounded CI step. tests/api/test_schemathesis.py reads the budget from the environment
# (SM_SCHEMATHESIS_EXAMPLES cases per source, at least SM_SCHEMATHESIS_MIN_CASES cases, within
# SM_SCHEMATHESIS_TIME_LIMIT seconds); the whole step is also killed after
# SM_SCHEMATHESIS_TIMEOUT seconds. Prints the number of cases, the time and the exit status.
#
# usage: bash scripts/schemathesis.sh          (SQLite)
#        DATABASE_URL=$(bash scripts/pg-up.sh) bash scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-console.settings_test}
export SM_SCHEMATHESIS_EXAMPLES=${SM_SCHEMATHESIS_EXAMPLES:-25}
export SM_SCHEMATHESIS_MIN_CASES=${SM_SCHEMATHESIS_MIN_CASES:-2000}
export SM_SCHEMATHESIS_TIME_LIMIT=${SM_SCHEMATHESIS_TIME_LIMIT:-420}
timeout=${SM_SCHEMATHESIS_TIMEOUT:-540}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$(date +%s)
status=0
timeout --kill-after=20 "$timeout" .venv/bin/pytest -q -s -p no:randomly -p no:cacheprovider \
  "tests/api/test_schemathesis.py::test_the_api_answers_as_its_document_says" >"$log" 2>&1 ||
  status=$?
elapsed=$(($(date +%s) - started))

if ! grep -E "^schemathesis: " "$log"; then
  echo "schemathesis: no summary (the run did not finish)"
fi
if [ "$status" -ne 0 ]; then
  tail -n 120 "$log"
  [ "$status" -eq 124 ] && echo "schemathesis: killed after ${timeout}s"
fi
echo "schemathesis step: ${elapsed}s, exit status $status"
exit "$status"
