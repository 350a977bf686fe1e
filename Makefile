# The two commands a newcomer needs: `make run` and `make test`. See README.md.
.PHONY: run test test-fast test-postgres lint bench help

help:
	@echo "make run        serve the console with demo data and the worker (PORT, SM_DATA_DIR)"
	@echo "make test       install what the tests need and run the whole suite, browser tests included"
	@echo "make test-fast  the suite without browser tests"
	@echo "make test-postgres  the whole suite on a throwaway PostgreSQL and Redis (scripts/pg-up.sh, scripts/redis-up.sh)"
	@echo "make lint       ruff"
	@echo "make bench      the benchmark at 1k, 10k and 100k secrets (DATABASE_URL: PostgreSQL; BENCH_ARGS)"

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

test-fast:
	@bash scripts/test.sh -m "not e2e"

# A private PostgreSQL on 127.0.0.1:5433 (PGPORT) and a private Redis on 127.0.0.1:6380
# (REDISPORT), installed and started by scripts/pg-up.sh and scripts/redis-up.sh: the django-q2
# broker and the cache are Redis. Both keep running afterwards (stop them with
# `bash scripts/pg-up.sh stop` and `bash scripts/redis-up.sh stop`).
test-postgres:
	@url=$$(bash scripts/pg-up.sh) && redis=$$(bash scripts/redis-up.sh) \
	  && DATABASE_URL=$$url REDIS_URL=$$redis bash scripts/test.sh

lint:
	@bash scripts/bootstrap.sh && .venv/bin/ruff check .

# Issue 13's benchmark (bench/run.py, about 15 minutes on 2 cores): SQLite, or PostgreSQL with
# DATABASE_URL (e.g. DATABASE_URL=$(bash scripts/pg-up.sh) make bench). BENCH_ARGS are passed on,
# e.g. BENCH_ARGS="--sizes 1000,10000 --rounds 50".
bench:
	@bash scripts/bootstrap.sh bench && .venv/bin/python bench/run.py $(BENCH_ARGS)
