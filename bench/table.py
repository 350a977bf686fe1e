"""Benchmark: the Secrets table page as the number of secrets grows.

Not a test. It prints ratios against a floor measured in the same run (the /healthz request:
routing, middleware and one query), so results compare across machines:

    .venv/bin/python bench/table.py            # 100, 1000 and 5000 secrets
    .venv/bin/python bench/table.py 200 20000  # sizes of your choice

It uses a throwaway data directory and SQLite file; nothing of yours is touched.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["SM_DATA_DIR"] = tempfile.mkdtemp(prefix="sm-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings_test")
os.environ["ALLOWED_HOSTS"] = "testserver"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

REPEATS = 15


def median_ms(client: Client, url: str) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)


def grow_to(count: int, group_ids: list[str]) -> None:
    """Add secrets (with labels and one encrypted version each) until there are `count`."""
    from console.identity import SYSTEM
    from secrets_app.models import Secret
    from secrets_app.services import arbitrary_secret_create

    for i in range(Secret.objects.count(), count):
        arbitrary_secret_create(
            actor=SYSTEM,
            name=f"bench-secret-{i:06d}",
            payload=f"value-{i}",
            secret_group_id=group_ids[i % len(group_ids)],
            labels=["bench", f"team-{i % 7}"],
            description=f"Benchmark secret number {i}",
        )


def main(sizes: list[int]) -> None:
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from console.identity import SYSTEM
    from console.liveness import heartbeat_record
    from secrets_app.services import group_create

    heartbeat_record()  # /healthz, the floor, answers 200 only with a fresh worker heartbeat
    admin = User.objects.create_superuser("bench", password="bench-pass-123")
    group_ids = [group_create(actor=SYSTEM, name=f"bench-group-{i}").pk for i in range(5)]
    client = Client()
    client.force_login(admin)
    print(
        f"{'secrets':>8} {'floor ms':>9} {'table ms':>9} {'ratio':>6} {'search':>7} {'queries':>8}"
    )
    for size in sizes:
        grow_to(size, group_ids)
        floor = median_ms(client, "/healthz")
        table = median_ms(client, "/secrets/")
        search = median_ms(client, "/secrets/?q=team-3&labels=bench&sort=name&page=2")
        with CaptureQueriesContext(connection) as queries:
            client.get("/secrets/")
        print(
            f"{size:>8} {floor:>9.2f} {table:>9.2f} {table / floor:>6.1f} {search / floor:>7.1f} {len(queries):>8}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000, 5000])
