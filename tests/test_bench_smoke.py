"""A small run of the benchmark suite (bench/run.py), so that it cannot rot.

Two sizes (10 and 100 secrets) and three rounds: every step of a real run (fresh databases,
seeding, gunicorn, the signed-in client, the floor, the wizard POST, the API list with a
bearer token) and every figure of the results, without the time of a real one. With
DATABASE_URL set (make test-postgres) it runs on PostgreSQL, in databases of its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "list_growth",
    "list_floor_low",
    "list_floor_high",
    "search_floor_high",
    "filter_floor_high",
    "list_queries",
    "first_load_kb",
    "api_list_floor_low",
    "api_list_floor_high",
    "wizard_post_floor_low",
    "wizard_post_floor_high",
}
MEASURED = {"floor", "list", "search", "filter", "api_list", "wizard_post"}
ROUNDS = 3


def test_a_small_run_has_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    plots = importlib.util.find_spec("matplotlib") is not None  # installed by `make bench`
    args = [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "10,100"]
    args += ["--rounds", str(ROUNDS), "--warmup", "1", "--no-activations"]
    args += ["--out", str(out)] + ([] if plots else ["--no-plot"])
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    result = json.loads(out.read_text())
    assert result["sizes"] == [10, 100]
    assert result["settings"]["workers"] == 2 and result["settings"]["debug"] is False
    for size in ("10", "100"):
        per = result["per_size"][size]
        assert per["seed"]["secrets"] == int(size)
        assert per["seed"]["versions"] == 5 * int(size)
        assert per["seed"]["groups"] == 21  # the 20 seeded and the default group
        assert set(per["latency_ms"]) == MEASURED
        for figure in MEASURED:
            assert per["latency_ms"][figure]["n"] == ROUNDS
            assert len(per["samples_ms"][figure]) == ROUNDS
            assert 0 < per["latency_ms"][figure]["median"] <= per["latency_ms"][figure]["p90"]
        assert set(per["ratio_to_floor"]) == MEASURED - {"floor"}
        assert per["queries"]["list"] > 0 and per["queries"]["floor"] > 0
        html, *assets = per["first_load"]["resources"]
        assert html["path"] == "/secrets/" and html["body_bytes"] > 1000
        assert any(a["path"].endswith(".css") for a in assets)
        # The page compressed, and its static files in the smallest encoding a browser takes.
        assert html["encoding"] == "br"
        assert {a["encoding"] for a in assets} == {"br"}
        assert per["first_load"]["total_wire_bytes"] > sum(r["body_bytes"] for r in assets)
        # The list's own assets only (not the feature pages' features.css and reveal.js), the
        # served copies minified: the first load within the 25 KB with a full page.
        names = sorted(a["path"].split("/")[-1].split(".")[0] for a in assets)
        assert names == ["app", "app", "htmx-2"], names
        if size == "100":
            assert per["first_load"]["total_wire_bytes"] <= 25 * 1024

    figures = {f["key"]: f for f in result["figures"]}
    assert set(figures) == FIGURES
    for key, figure in figures.items():
        assert isinstance(figure["value"], int | float) and figure["value"] > 0, key
        assert figure["label"] in proc.stdout, key
    targets = {k for k, f in figures.items() if f["target"]}
    assert targets == FIGURES - {k for k in FIGURES if k.startswith(("api_", "wizard_"))}
    assert all(isinstance(figures[k]["met"], bool) for k in targets)
    assert "activation rows" in result["activations_note"]
    if plots:
        assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_small_activations_run_accounts_for_the_machine(tmp_path: Path) -> None:
    """bench/activations.py end to end, on SQLite (bench/run.py gives it a database of its own on
    PostgreSQL): a single activation, a burst of three, and the bare job processes, with the
    whole machine's CPU per activation that bounds the burst's rate."""
    out = tmp_path / "activations.json"
    args = [sys.executable, str(ROOT / "bench" / "activations.py"), "--singles", "1"]
    args += ["--burst", "3", "--bursts", "1", "--floor", "2", "--floor-at-once", "2"]
    args += ["--json", str(out)]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SM_DATA_DIR"}}
    env["TMPDIR"] = str(tmp_path)  # where its data directory goes
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # A finished run leaves no data directory behind (each make test made one before).
    assert not list(tmp_path.glob("sm-test-data-bench-*"))

    result = json.loads(out.read_text())
    assert result["settings"]["database"] == "sqlite" and result["settings"]["burst"] == 3
    assert 0 < result["single_create_to_active_s"]["median"] < 60
    (burst,) = result["bursts"]
    assert burst["rate"] > 0 and len(burst["phases_s"]) == 4
    machine = burst["machine"]
    assert 0 < machine["busy_share"] <= 1 and 0 <= machine["stolen_share"] < 1
    # The machine sees the job processes that the worker's process tree does not.
    assert machine["cpu_per_activation_s"] > burst["cpu_per_activation_s"]["worker_and_jobs"]
    assert result["floor_jobs_per_s"]["median"] > 0
    assert result["floor_job_cpu_s"]["median"] > 0
    assert "before the job does any work" in proc.stdout
