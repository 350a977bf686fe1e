"""The benchmark suite of issue 13: the console at 1k, 10k and 100k secrets, over HTTP.

    make bench                                     # SQLite; DATABASE_URL=postgres://... for PostgreSQL
    .venv/bin/python bench/run.py --sizes 1000,100000 --rounds 50

For each size it seeds a fresh database (bench/seeding.py), serves it with gunicorn as README
"Production" says (2 sync workers, DEBUG off, static files from the manifest) and signs a user
in. Then it measures in rounds: in each round every page of every size once, in a shuffled
order, so the figures of one round share the machine's load of that moment. Every page is
stated as a multiple of the floor (a three-line page for a signed-in user through the same
middleware, /bench/floor/, routed only under SM_BENCH_FLOOR=1) measured in the same round;
each figure is the median of its per-round ratios, with the 90th percentile as its spread.

It prints one table (every row of issue 13's table, the API list and a wizard step POST),
writes the results as JSON (bench/results/, one file per run) and draws a PNG plot of the
list, search and filter latency against N beside it. On PostgreSQL each size gets its own
database on the server of DATABASE_URL, dropped at the end (--keep keeps them, and the data
directories, for profiling).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from measure import Client, first_load, run_rounds, spread  # noqa: E402
from report import figures, per_size_ratios, plot, table  # noqa: E402
from servers import WORKERS, BenchError, Database, Server, base_env, manage, seed  # noqa: E402
from workload import PAGES  # noqa: E402

ROOT = BENCH.parent
DEFAULT_SIZES = (1000, 10000, 100000)
ACTIVATIONS = BENCH / "activations.py"


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def git_state() -> tuple[str, bool]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return git("rev-parse", "HEAD") or "unknown", bool(git("status", "--porcelain", "-uno"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the console at growing N.")
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated numbers of secrets (default %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured rounds first (5)")
    parser.add_argument(
        "--out", type=Path, help="results JSON (default bench/results/<db>-<time>.json)"
    )
    parser.add_argument("--plot", type=Path, help="PNG plot (default: beside the JSON)")
    parser.add_argument("--no-plot", action="store_true", help="draw no plot (no matplotlib)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a PostgreSQL server to create the databases on (default: $DATABASE_URL; "
        "none: SQLite)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and data dirs")
    parser.add_argument("--note", default="", help="a remark kept in the results JSON")
    parser.add_argument(
        "--no-activations", action="store_true", help="skip bench/activations.py (its two rows)"
    )
    parser.add_argument(
        "--activation-args",
        default="",
        help="arguments for bench/activations.py, e.g. '--singles 10 --bursts 2'",
    )
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes needs at least one positive number")
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")
    return args


def _median_and_p90(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, dict):
        median, p90 = value.get("median"), value.get("p90")
        return (
            None if median is None else round(float(median), 3),
            None if p90 is None else round(float(p90), 3),
        )
    if isinstance(value, int | float):
        return round(float(value), 3), None
    return None, None


def activation_figures(
    args: argparse.Namespace, run_dir: Path, database: Database
) -> tuple[dict[str, Any] | None, str]:
    """Issue 13's two activation rows, from the runner benchmark bench/activations.py (the job
    runner's own script, run as it is, with its own server and workers) when it exists."""
    if args.no_activations:
        return None, "--no-activations: the two activation rows of issue 13 are left out"
    if not ACTIVATIONS.exists():
        return None, "bench/activations.py does not exist: the two activation rows are left out"
    out = run_dir / "activations.json"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database.admin_url:
        # It migrates and seeds the database it is given: a fresh one of this run's.
        env["DATABASE_URL"] = database.create_empty("activations")
    log(f"bench/activations.py {args.activation_args}".strip())
    with (run_dir / "activations.log").open("ab") as output:
        proc = subprocess.run(
            [sys.executable, str(ACTIVATIONS), "--json", str(out), *args.activation_args.split()],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
            check=False,
        )
    if proc.returncode != 0 or not out.exists():
        return None, (
            f"bench/activations.py failed (exit status {proc.returncode}; its output is in "
            f"{run_dir / 'activations.log'}): the two activation rows are left out"
        )
    raw: dict[str, Any] = json.loads(out.read_text())
    single, single_p90 = _median_and_p90(raw.get("single_create_to_active_s"))
    burst, burst_p90 = _median_and_p90(raw.get("burst_activations_per_s"))
    found: dict[str, Any] = {"raw": raw}
    if single is not None:
        found["create_to_active_median_s"] = single
        found["create_to_active_p90_s"] = single_p90
    if burst is not None:
        found["burst_activations_per_s"] = burst
        found["burst_activations_per_s_p90"] = burst_p90
    return found, "" if single is not None and burst is not None else (
        "bench/activations.py gave no single_create_to_active_s or burst_activations_per_s"
    )


def measure(args: argparse.Namespace, run_dir: Path, database: Database) -> dict[str, Any]:
    env = base_env(run_dir)
    steps = run_dir / "steps.log"
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    log(f"collectstatic and migrate ({database.vendor}) in {run_dir}")
    manage(
        ["collectstatic", "--noinput", "-v0"],
        database.env_for("template", env),
        steps,
        "collectstatic",
    )
    database.create_template(env, steps)
    servers: list[Server] = []
    clients: list[Client] = []
    per_size: dict[str, dict[str, Any]] = {}
    try:
        for size in args.sizes:
            label = f"n{size}"
            size_env = database.clone_template(label, env)
            log(f"seeding {size} secrets")
            seeded = seed(size, size_env, PAGES, steps)
            per_size[str(size)] = {"seed": seeded["seed"], "queries": seeded["queries"]}
            log(f"seeded {size} secrets in {seeded['seed']['seconds']} s; starting gunicorn")  # type: ignore[index]
            server = Server(label, size_env, run_dir / f"{label}-gunicorn.log")
            server.start()
            servers.append(server)
            client = Client(str(size), server.port, str(seeded["session"]), str(seeded["token"]))
            server.wait_ready(client.floor_status)
            client.start_wizard()
            clients.append(client)
        for client in clients:
            per_size[client.label]["first_load"] = first_load(client)
        log(f"measuring: {args.warmup} warm-up rounds, then {args.rounds} rounds")
        samples = run_rounds(clients, rounds=args.rounds, warmup=args.warmup)
    finally:
        for server in servers:
            server.stop()
    for label, by_figure in samples.items():
        per_size[label]["latency_ms"] = {f: spread(v) for f, v in by_figure.items()}
        per_size[label]["ratio_to_floor"] = per_size_ratios(by_figure)
        per_size[label]["samples_ms"] = {f: [round(x, 3) for x in v] for f, v in by_figure.items()}
    commit, dirty = git_state()
    result: dict[str, Any] = {
        "schema": 1,
        "database": database.vendor,
        "commit": commit,
        "dirty": dirty,
        "note": args.note,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "server": "gunicorn",
            "workers": WORKERS,
            "worker_class": "sync",
            "debug": False,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "pages": {**PAGES, "wizard_post": "POST /wizards/arbitrary/<draft>/details/"},
        },
        "sizes": args.sizes,
        "per_size": per_size,
    }
    result["activations"], result["activations_note"] = activation_figures(args, run_dir, database)
    result["figures"] = figures(result)
    return result


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that the servers stop and the databases go


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    run_dir = Path(tempfile.mkdtemp(prefix="sm-bench-"))
    database = Database(run_dir, args.database_url or None)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out: Path = args.out or BENCH / "results" / f"{database.vendor}-{stamp}.json"
    failed = True
    begun = time.monotonic()
    try:
        result = measure(args, run_dir, database)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        print(table(result))
        print(f"\nresults: {out}")
        if not args.no_plot:
            png = args.plot or out.with_suffix(".png")
            try:
                plot([result], png)
            except ImportError:
                raise BenchError(
                    "matplotlib is not installed: `make bench` installs it, or pass --no-plot"
                ) from None
            print(f"plot: {png}")
        failed = False
    except BenchError as exc:
        log(f"failed: {exc}")
        return 1
    finally:
        if not args.keep:
            database.drop_all()
        if failed or args.keep:
            log(f"kept {run_dir} (logs{', data' if args.keep else ''})")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
        log(f"took {time.monotonic() - begun:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
