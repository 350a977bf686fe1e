# The two commands a newcomer needs: `make run` and `make test`. See README.md.
.PHONY: run test test-fast lint bench help

help:
	@echo "make run        serve the console with demo data and the worker (PORT, SM_DATA_DIR)"
	@echo "make test       install what the tests need and run the whole suite, browser tests included"
	@echo "make test-fast  the suite without browser tests"
	@echo "make lint       ruff"

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

test-fast:
	@bash scripts/test.sh -m "not e2e"

lint:
	@bash scripts/bootstrap.sh && .venv/bin/ruff check .
