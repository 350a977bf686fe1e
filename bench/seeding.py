"""Seed one benchmark database, then count the queries of the measured pages.

Run by bench/run.py in a process of its own, with the environment of the server it seeds for
(DJANGO_SETTINGS_MODULE, SM_DATA_DIR or DATABASE_URL, SECRET_KEY, SM_ROOT_KEY, STATIC_ROOT):

    python bench/seeding.py --count 100000

It prints one JSON object on stdout: the seeding time, the signed-in user's session key and an
API bearer token for the measuring client, and the query count of every measured page.

The rows are what the console itself would hold: secrets spread over 20 groups, one to four
labels each (kept in both `Secret.labels` and `SecretLabel`), five versions each of which the
current and the previous keep their payload, sealed with the real envelope encryption
(console.crypto.seal, bound to the version's context) and with the payload field digests
that the version history compares. They go in with bulk_create, in batches, not through the
services one at a time: seeding 100k secrets that way would take hours.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from workload import USERNAME  # noqa: E402  (bench/workload.py, beside this file)

from console import crypto  # noqa: E402
from secrets_app.models import (  # noqa: E402
    Secret,
    SecretGroup,
    SecretLabel,
    SecretState,
    SecretType,
    SecretVersion,
    VersionAlias,
)
from secrets_app.services.versions import payload_digests  # noqa: E402

GROUPS = 20
VERSIONS = 5
BATCH = 2000

# workload.SEARCH_TERM ("payments") is one of the 25 services: 1 in 25 names hold it.
APPS = [
    "payments", "billing", "ledger", "auth", "search", "catalog", "checkout", "inventory",
    "shipping", "notify", "reports", "gateway", "profile", "orders", "pricing", "reviews",
    "media", "audit", "metrics", "support", "loyalty", "fraud", "tax", "export", "import",
]  # fmt: skip
ENVIRONMENTS = ["dev", "stage", "prod"]
KINDS = [
    "db-password",
    "api-token",
    "webhook-secret",
    "signing-key",
    "smtp-password",
    "oauth-client",
]
REGIONS = ["us-south", "us-east", "eu-de", "eu-gb", "jp-tok"]
CREATOR = "IBMid-bench-seed"


@contextlib.contextmanager
def explicit_timestamps() -> Iterator[None]:
    """Let bulk_create keep the timestamps the rows are given (a year of history), instead of
    stamping every row with now through auto_now / auto_now_add."""
    fields = [
        Secret._meta.get_field("created_at"),
        Secret._meta.get_field("updated_at"),
        SecretVersion._meta.get_field("created_at"),
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def make_groups() -> list[SecretGroup]:
    groups = [
        SecretGroup(
            name=f"{APPS[i]}-secrets",
            description=f"Secrets of the {APPS[i]} service",
            created_by=CREATOR,
        )
        for i in range(GROUPS)
    ]
    SecretGroup.objects.bulk_create(groups)
    return groups


def secret_rows(
    start: int, stop: int, groups: list[SecretGroup], rng: random.Random, now: datetime
) -> tuple[list[Secret], list[SecretLabel], list[SecretVersion]]:
    secrets: list[Secret] = []
    labels: list[SecretLabel] = []
    versions: list[SecretVersion] = []
    for i in range(start, stop):
        app, env = APPS[i % len(APPS)], ENVIRONMENTS[i % len(ENVIRONMENTS)]
        kind = KINDS[(i // len(APPS)) % len(KINDS)]
        names = [env, f"team-{i % 12:02d}"]  # workload.FILTER_LABEL is team-03
        if i % 3 == 0:
            names.append(REGIONS[i % len(REGIONS)])
        if i % 10 == 0:
            names.append("pci")
        created = now - timedelta(seconds=rng.randrange(3600, 365 * 86400))
        version_times = sorted(
            created + timedelta(seconds=rng.randrange(0, int((now - created).total_seconds())))
            for _ in range(VERSIONS - 1)
        )
        expires = now + timedelta(days=rng.randrange(-30, 400)) if i % 4 == 0 else None
        secret = Secret(
            name=f"{app}-{env}-{kind}-{i:06d}",
            description=f"{kind.replace('-', ' ').capitalize()} of {app} in {env}",
            secret_type=SecretType.ARBITRARY,
            secret_group=groups[i % len(groups)],
            state=SecretState.ACTIVE,
            labels=names,
            custom_metadata={"owner": f"team-{i % 12:02d}", "ticket": f"OPS-{i % 9000 + 1000}"},
            expiration_date=expires,
            created_by=CREATOR,
            created_at=created,
            updated_at=version_times[-1],
            versions_total=VERSIONS,
        )
        secrets.append(secret)
        labels.extend(SecretLabel(secret=secret, name=name) for name in names)
        for serial, at in enumerate([created, *version_times], start=1):
            alias = {VERSIONS: VersionAlias.CURRENT, VERSIONS - 1: VersionAlias.PREVIOUS}.get(
                serial
            )
            version = SecretVersion(
                secret=secret,
                serial=serial,
                alias=alias,
                payload_available=alias is not None,
                version_custom_metadata={"reason": "initial" if serial == 1 else "rotation"},
                created_by=CREATOR,
                created_at=at,
                expiration_date=expires,
            )
            payload = f"{app}:{env}:{rng.getrandbits(128):032x}"
            version.payload_digests = payload_digests(secret_id=secret.pk, payload=payload)
            if alias is not None:
                # Only current and previous keep their (sealed) payload, as version_add leaves it.
                sealed = crypto.seal(json.dumps(payload).encode(), context=version.seal_context())
                version.set_sealed(sealed)
            versions.append(version)
    return secrets, labels, versions


def seed(count: int) -> dict[str, Any]:
    rng = random.Random(13)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with explicit_timestamps(), transaction.atomic():
        groups = make_groups()
        for start in range(0, count, BATCH):
            secrets, labels, versions = secret_rows(
                start, min(count, start + BATCH), groups, rng, now
            )
            Secret.objects.bulk_create(secrets)
            SecretLabel.objects.bulk_create(labels)
            SecretVersion.objects.bulk_create(versions)
    # What the database's statistics would be soon after a bulk load: on PostgreSQL autovacuum
    # analyses it; on SQLite the console's hourly `database-statistics` schedule does
    # (console/planner_statistics.py), and its first run comes with `setup_schedules`.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    analyzed = True
    return {
        "secrets": Secret.objects.count(),
        "versions": SecretVersion.objects.count(),
        "labels": SecretLabel.objects.count(),
        "groups": SecretGroup.objects.count(),
        "seconds": round(time.perf_counter() - started, 2),
        "analyzed": analyzed,
    }


def sign_in() -> tuple[User, str, str]:
    """The benchmark's admin, a session for it (as a sign-in makes) and an API key."""
    user = User.objects.create_superuser(USERNAME, password=os.urandom(16).hex())
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    out = io.StringIO()
    call_command("create_api_key", user=USERNAME, stdout=out)
    return user, str(store.session_key), out.getvalue().strip()


def bearer_token(api_key: str) -> str:
    response = Client().post(
        "/identity/token",
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": api_key},
    )
    assert response.status_code == 200, response.status_code
    return str(response.json()["access_token"])


def query_counts(user: User, token: str, pages: dict[str, str]) -> dict[str, int]:
    """How many queries each measured GET page makes, on the seeded data."""
    client = Client()
    client.force_login(user)
    counts: dict[str, int] = {}
    for key, path in pages.items():
        headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
        client.get(path, headers=headers)  # warm: the first request loads caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code} while counting queries")
        counts[key] = len(queries)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="how many secrets")
    parser.add_argument("--pages", required=True, help="JSON object: figure name → GET path")
    args = parser.parse_args()
    seeded = seed(args.count)
    user, session_key, api_key = sign_in()
    token = bearer_token(api_key)
    counts = query_counts(user, token, json.loads(args.pages))
    print(json.dumps({"seed": seeded, "session": session_key, "token": token, "queries": counts}))


if __name__ == "__main__":
    main()
