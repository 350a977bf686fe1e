"""Benchmark: custom credentials secrets from create to Active, one at a time and in bursts.

Not a test (`make test` runs only a small smoke of it, tests/test_bench_smoke.py). It seeds a
throwaway data directory (SQLite, or the database of DATABASE_URL; removed at the end unless
--keep-data, or the run failed, when its path is printed for the logs in it), serves it with gunicorn (2 sync workers, DEBUG off) for the jobs'
callbacks, starts `manage.py qcluster` with Q_WORKERS workers (2 by default), then creates
custom credentials secrets of the token-provider configuration through the service layer:

- one at a time: the time from the create call to the secret being Active (median and spread);
- bursts of N creates issued back to back: N / (last activation - first create), activations/s.

As a floor it times the job process alone: the sample job's interpreter, started in the job
sandbox exactly as a run starts it, without any callback. That is the least a run can cost.

    .venv/bin/python bench/activations.py                     # 12 singles, 3 bursts of 50
    .venv/bin/python bench/activations.py --singles 20 --bursts 5 --json /tmp/act.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Callable[[], Any], *, timeout: float, what: str, step: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(step)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)  # noqa: S310 - our own loopback server
    except urllib.error.HTTPError:
        return True  # /healthz says 503 until a worker beats: the server answers all the same
    except OSError:
        return False
    return True


def _tree_cpu(root: int) -> float:
    """CPU seconds of a process and its descendants, with the children they have reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def _machine_cpu() -> tuple[float, float, float]:
    """The whole machine's (busy, stolen, all) CPU seconds since boot, summed over its cores."""
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    values = [int(v) / tick for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    return user + nice + system + irq + softirq, steal, sum(values)


def _own_cpu() -> float:
    usage = os.times()
    return usage.user + usage.system


def _spread(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "p90": ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=12, help="creates one at a time")
    parser.add_argument("--burst", type=int, default=50, help="creates per burst")
    parser.add_argument("--bursts", type=int, default=3, help="how many bursts")
    parser.add_argument("--workers", type=int, default=2, help="django-q2 workers")
    parser.add_argument("--floor", type=int, default=10, help="bare job processes to time")
    parser.add_argument(
        "--floor-at-once", type=int, default=8, help="bare job processes at once (the rate floor)"
    )
    parser.add_argument("--json", help="write the results here")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the data directory (and its logs)"
    )
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="sm-test-data-bench-")
    port = _free_port()
    os.environ.update(
        SM_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="console.settings_test",
        SM_PUBLIC_URL=f"http://127.0.0.1:{port}",
        Q_SYNC="0",
        Q_WORKERS=str(args.workers),
        LOG_LEVEL="WARNING",
    )

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from console.identity import Actor
    from secrets_app import seed
    from secrets_app.models import Secret, SecretGroup, SecretState

    actor = Actor(iam_id="IBMid-0000000999", name="bench", system=True)
    project = seed.seed_code_engine(actor=actor)
    seed.seed_iam_engine(actor=actor)
    key_secret = seed.seed_provider_access(actor=actor)
    seed.seed_configurations(actor=actor, project=project, api_key_secret=key_secret)
    group_id = SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk
    from django.db import connection

    connection.close()

    logs = Path(data_dir) / "bench-logs"
    logs.mkdir()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    procs = []
    with open(logs / "gunicorn.log", "w") as web_log, open(logs / "qcluster.log", "w") as q_log:
        procs.append(
            subprocess.Popen(
                [str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{port}", "console.wsgi"],
                cwd=ROOT,
                stdout=web_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                stdout=q_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    finished = False
    try:
        _wait(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=60, what="gunicorn")
        results = _measure(args, Secret, SecretState, actor, group_id, procs)
        results["floor_job_process_s"] = _spread(_floor(args.floor))
        floors = [_floor_rate(args.burst, args.floor_at_once) for _ in range(args.bursts)]
        results["floor_jobs_per_s"] = _spread([rate for rate, _ in floors])
        results["floor_job_cpu_s"] = _spread([cpu for _, cpu in floors])
        finished = True
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        if finished and not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"The run's data directory (logs in bench-logs/): {data_dir}", file=sys.stderr)
    results["settings"] = {
        "workers": args.workers,
        "burst": args.burst,
        "floor_at_once": args.floor_at_once,
        "database": connection.vendor,
        "cores": os.cpu_count(),
        "loadavg_after": os.getloadavg(),
        "tree": str(ROOT),
    }
    _print(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def _create(actor: Any, group_id: str, name: str) -> Any:
    from secrets_app.services.custom_credentials import custom_credentials_secret_create

    return custom_credentials_secret_create(
        actor=actor,
        name=name,
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=group_id,
    ).pk


def _measure(  # type: ignore[no-untyped-def]
    args: argparse.Namespace,
    Secret: Any,
    SecretState: Any,
    actor: Any,
    group_id: str,
    procs: list[subprocess.Popen[bytes]],
):
    def active(pks: list[Any]) -> int:
        return Secret.objects.filter(pk__in=pks, state=SecretState.ACTIVE).count()

    def failed(pks: list[Any]) -> bool:
        from secrets_app.models import SecretTask

        bad = SecretTask.objects.filter(secret_id__in=pks, status="failed").first()
        if bad:
            raise SystemExit(f"a task failed: {bad.errors}")
        return False

    # Warm-up: the first run of each process pays imports and connections.
    # Names of this run only: a database given by DATABASE_URL may hold an earlier run's.
    run = os.urandom(3).hex()
    warm = [_create(actor, group_id, f"warm-{run}-{i}") for i in range(4)]
    _wait(lambda: active(warm) == len(warm), timeout=120, what="the warm-up", step=0.05)

    # Times come from the record (when each task reported credentials_created, the moment its
    # secret became Active), not from when this process noticed: so the polls can be sparse and
    # leave the 2 cores to the system under test (at a 10 ms step they took about 9 % of a
    # burst's CPU).
    singles, single_pks = [], []
    for i in range(args.singles):
        start = time.time()
        pk = _create(actor, group_id, f"single-{run}-{i}")
        _wait(
            lambda pk=pk: active([pk]) or failed([pk]),
            timeout=60,
            what=f"single {i} to activate",
            step=0.05,
        )
        singles.append(_activated_at([pk]) - start)
        single_pks.append(pk)

    bursts = []
    for b in range(args.bursts):
        cpu_before = [_tree_cpu(p.pid) for p in procs] + [_own_cpu()]
        machine_before = _machine_cpu()
        start = time.time()
        pks = [_create(actor, group_id, f"burst-{run}-{b}-{i}") for i in range(args.burst)]
        created = time.time() - start
        _wait(
            lambda pks=pks: active(pks) == len(pks) or failed(pks),
            timeout=600,
            what=f"burst {b}",
            step=0.2,
        )
        elapsed = _activated_at(pks) - start
        # The runs end (and are recorded) just after their secrets become Active.
        _wait(lambda pks=pks: not _runs_going(), timeout=60, what="the runs to end", step=0.05)
        cpu = [
            after - before
            for after, before in zip(
                [_tree_cpu(p.pid) for p in procs] + [_own_cpu()], cpu_before, strict=True
            )
        ]
        busy, stolen, every = (
            after - before for after, before in zip(_machine_cpu(), machine_before, strict=True)
        )
        bursts.append(
            {
                "rate": args.burst / elapsed,
                "elapsed_s": elapsed,
                "creates_took_s": created,
                # Where each activation's time went in the burst (as single_phases_s).
                "phases_s": _phases(pks),
                # CPU seconds per activation: web (gunicorn), worker (qcluster, with the jobs it
                # started), and this process (the creates).
                "cpu_per_activation_s": {
                    "web": cpu[0] / args.burst,
                    "worker_and_jobs": cpu[1] / args.burst,
                    "creates": cpu[2] / args.burst,
                },
                # The whole machine from the first create until the last run ended: how much of
                # its cores' time was busy (stolen time counts as not available), and its busy
                # CPU seconds per activation without this process (the creates and the polls).
                # The job processes live in sessions of their own and are reaped by bwrap, not
                # by the worker, so only this sees all of their CPU.
                "machine": {
                    "busy_share": busy / every if every else 0.0,
                    "stolen_share": stolen / every if every else 0.0,
                    "cpu_per_activation_s": (busy - cpu[2]) / args.burst,
                },
            }
        )
    return {
        "single_create_to_active_s": _spread(singles),
        "single_phases_s": _phases(single_pks),
        "single_samples_s": singles,
        "burst_activations_per_s": _spread([b["rate"] for b in bursts]),
        "bursts": bursts,
    }


def _activated_at(pks: list[Any]) -> float:
    """When the last of these secrets became Active (its task's credentials_created), as Unix time."""
    from datetime import datetime

    from secrets_app.models import SecretTask

    return max(
        datetime.fromisoformat(entry["at"]).timestamp()
        for task in SecretTask.objects.filter(secret_id__in=pks)
        for entry in task.status_history
        if entry["status"] == "credentials_created"
    )


def _phases(pks: list[Any]) -> dict[str, dict[str, float]]:
    """Where a single activation's time goes, from the task's history and the run's record."""
    from datetime import datetime

    from engines_app.providers.embedded.code_engine.models import JobRun
    from secrets_app.models import SecretTask

    _wait(lambda: not _runs_going(), timeout=60, what="the runs to end")
    phases: dict[str, list[float]] = {}
    for task in SecretTask.objects.filter(secret_id__in=pks):
        at = {e["status"]: datetime.fromisoformat(e["at"]) for e in task.status_history}
        run = JobRun.objects.get(name=task.pk)
        assert run.started_at and run.ended_at
        steps = {
            "queued -> processing (the broker hands the task to a worker)": (
                at["processing"] - at["queued"]
            ),
            "processing -> run started (dispatch, the run's hand-over)": (
                run.started_at - at["processing"]
            ),
            "run started -> credentials created (the job and its callbacks)": (
                at["credentials_created"] - run.started_at
            ),
            "credentials created -> run recorded (the job exits; after Active)": (
                run.ended_at - at["credentials_created"]
            ),
        }
        for label, delta in steps.items():
            phases.setdefault(label, []).append(delta.total_seconds())
    return {label: _spread(values) for label, values in phases.items()}


def _runs_going() -> bool:
    from engines_app.providers.embedded.code_engine.models import JobRun

    return JobRun.objects.filter(status__in=["pending", "running"]).exists()


def _bare_job() -> tuple[list[str], dict[str, str], Path]:
    """The sample job's interpreter importing the job, started exactly as a run starts it."""
    from django.conf import settings

    from engines_app.providers.embedded.code_engine import sandbox

    plan = sandbox.run_plan(sandbox.sandbox_status())
    home = Path(tempfile.mkdtemp(prefix="bench-home-", dir=settings.JOB_LOG_DIR.parent))
    sandbox.prepare_home(plan, home)
    jobs = str(settings.SM_SAMPLE_JOBS_DIR)
    argv = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {jobs!r}); import token_provider",
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    if plan.sandboxed:
        argv = sandbox.sandboxed_argv(plan, argv=argv, home=home)
    return argv, env, home


def _floor(count: int) -> list[float]:
    """The job process alone, one at a time: the least one activation can take."""
    argv, env, home = _bare_job()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, cwd=home)
        samples.append(time.perf_counter() - start)
    return samples


def _floor_rate(count: int, at_once: int) -> tuple[float, float]:
    """Bare job processes per second, `at_once` at a time: the most a burst can reach here; and
    the machine's busy CPU seconds per process (the sandbox's and the interpreter's), less what
    this process spent starting them."""
    from concurrent.futures import ThreadPoolExecutor

    argv, env, home = _bare_job()
    own, (busy, _, _) = _own_cpu(), _machine_cpu()
    start = time.perf_counter()
    with ThreadPoolExecutor(at_once) as threads:
        list(
            threads.map(lambda _: subprocess.run(argv, env=env, check=True, cwd=home), range(count))
        )
    rate = count / (time.perf_counter() - start)
    return rate, ((_machine_cpu()[0] - busy) - (_own_cpu() - own)) / count


def _print(results: dict[str, Any]) -> None:
    single = results["single_create_to_active_s"]
    burst = results["burst_activations_per_s"]
    floor = results["floor_job_process_s"]
    print(f"tree {results['settings']['tree']}, {results['settings']['workers']} workers")
    print(
        f"create -> Active, one at a time: median {single['median']:.3f} s "
        f"(min {single['min']:.3f}, p90 {single['p90']:.3f}, max {single['max']:.3f}; "
        f"n={len(results['single_samples_s'])})"
    )
    for label, spread in results["single_phases_s"].items():
        print(f"  {label}: median {spread['median']:.3f} s (max {spread['max']:.3f})")
    rates = ", ".join(f"{b['rate']:.1f}" for b in results["bursts"])
    print(
        f"bursts of {results['settings']['burst']} creates: median {burst['median']:.1f} activations/s (each burst: {rates})"
    )
    for b in results["bursts"]:
        cpu = b["cpu_per_activation_s"]
        print(
            f"  burst {b['elapsed_s']:.2f} s (creates {b['creates_took_s']:.2f} s); CPU s per "
            f"activation: web {cpu['web']:.3f}, worker+jobs {cpu['worker_and_jobs']:.3f}, "
            f"creates {cpu['creates']:.3f}"
        )
        machine = b["machine"]
        print(
            f"    the machine: {100 * machine['busy_share']:.0f} % busy, "
            f"{100 * machine['stolen_share']:.0f} % stolen; "
            f"{machine['cpu_per_activation_s']:.3f} CPU s per activation without the creates "
            f"(so at most {results['settings']['cores'] / machine['cpu_per_activation_s']:.1f}"
            "/s on these cores)"
        )
        for label, spread in b["phases_s"].items():
            print(f"    {label}: median {spread['median']:.3f} s (max {spread['max']:.3f})")
    print(
        f"floor (the job process alone, in the sandbox): median {floor['median']:.3f} s "
        f"(min {floor['min']:.3f}, max {floor['max']:.3f})"
    )
    jobs = results["floor_jobs_per_s"]
    print(
        f"floor rate (bare job processes, {results['settings']['floor_at_once']} at once): "
        f"median {jobs['median']:.1f}/s (min {jobs['min']:.1f}, max {jobs['max']:.1f})"
    )
    print(f"burst median / floor rate: {burst['median'] / jobs['median']:.2f}")
    job_cpu = results["floor_job_cpu_s"]["median"]
    cores = results["settings"]["cores"]
    console = statistics.median(
        b["cpu_per_activation_s"]["web"] + b["cpu_per_activation_s"]["worker_and_jobs"]
        for b in results["bursts"]
    )
    print(
        f"CPU per activation: a bare job process {job_cpu:.3f} s (the machine's, medians), the "
        f"console {console:.3f} s (web and worker); so at most {cores / (job_cpu + console):.1f}"
        f"/s on {cores} cores before the job does any work, and {cores / job_cpu:.1f}/s for the "
        "bare processes alone"
    )
    print(
        f"single median / floor: {single['median'] / floor['median']:.2f}; "
        f"load average after: {results['settings']['loadavg_after'][0]:.2f}"
    )


if __name__ == "__main__":
    main()
