"""A root key rotation interrupted halfway: every value still opens, and running it again finishes.

`manage.py rotate_root_key` runs as its own process and is killed with SIGKILL in the middle of a
batch (after a given number of data keys were re-wrapped, so the point is exact): the batches
before it are committed under the new key, the one it was in is rolled back. In key-file mode the
key file then holds both keys; in SM_ROOT_KEY mode the operator still lists the old key in
SM_ROOT_KEYS_OLD. Either way the instance reads everything meanwhile, and a second run re-wraps
what is left and finishes (tests/unit/test_crypto.py tests the uninterrupted rotations).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from console import crypto
from console.identity import Actor
from console.settings_test import TEST_DATA_PREFIX
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.iam.models import ServiceId
from engines_app.providers.iam import get_iam
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup
from secrets_app.services import arbitrary_secret_create, arbitrary_secret_rotate
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_update,
)
from tests.faults.consistency import assert_consistent, open_every_sealed_value, sealed_rows

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
BATCH = 2
KILLED_AFTER = 5  # data keys re-wrapped before the kill: two batches committed, one in flight

# The command, killed once it has re-wrapped `limit` data keys (in the middle of a batch).
INTERRUPTED = """
import os, signal, sys
import django
django.setup()
from django.core.management import call_command
from console import crypto
from console.identity import Actor

limit, done, real_rewrap = int(sys.argv[1]), [0], crypto.rewrap

def rewrap(sealed, *, keyring):
    if done[0] == limit:
        os.kill(os.getpid(), signal.SIGKILL)
    done[0] += 1
    return real_rewrap(sealed, keyring=keyring)

crypto.rewrap = rewrap
call_command("rotate_root_key", "--batch-size", sys.argv[2])
"""


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def populate() -> list[Secret]:
    """Sealed values of every kind: arbitrary payloads (current and previous), an IAM API key,
    the IAM engine's key, a job's secret variable and a custom credentials payload."""
    actor = Actor(iam_id="IBMid-0000000999", name="test-admin", system=True)
    secrets = []
    for i in range(3):
        secret = arbitrary_secret_create(actor=actor, name=f"rotated-{i}", payload=f"value-{i}")
        arbitrary_secret_rotate(actor=actor, secret_id=secret.pk, payload=f"value-{i}-b")
        secrets.append(secret)
    project = seed.seed_code_engine(actor=actor)
    seed.seed_iam_engine(actor=actor)
    key_secret = seed.seed_provider_access(actor=actor)
    seed.seed_configurations(actor=actor, project=project, api_key_secret=key_secret)
    ce.job_create(
        actor=actor,
        project=project,
        name="with-a-password",
        command=["true"],
        env={"DB_PASSWORD": "pw-" + uuid.uuid4().hex},
    )
    custom = custom_credentials_secret_create(
        actor=actor,
        name="rotated-token",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    secret_task_update(
        principal=get_iam().principal_for_actor(Actor(iam_id=job.iam_id, name=job.name)),
        secret_id=custom.pk,
        task_id=custom.tasks.get().pk,
        body={
            "status": "credentials_created",
            "credentials": {"id": "tok-1", "payload": {"token": "tks_rotated"}},
        },
    )
    return [*secrets, key_secret, custom]


def rotate(env: dict[str, str], *, killed_after: int | None = None) -> subprocess.CompletedProcess:
    if killed_after is None:
        argv = [sys.executable, "manage.py", "rotate_root_key", "--batch-size", str(BATCH)]
    else:
        argv = [sys.executable, "-c", INTERRUPTED, str(killed_after), str(BATCH)]
    full_env = {**os.environ, "SM_DB_NAME": str(connection.settings_dict["NAME"]), **env}
    return subprocess.run(argv, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300)


def key_ids() -> dict[str, int]:
    found: dict[str, int] = {}
    for row in sealed_rows():
        found[row.sealed_key_id] = found.get(row.sealed_key_id, 0) + 1
    return found


def assert_all_consistent(secrets: list[Secret], before: dict[str, bytes]) -> None:
    assert open_every_sealed_value() == before, "a value changed or no longer opens"
    for secret in secrets:
        assert_consistent(secret)


@pytest.fixture
def key_file(tmp_path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The default install's key-file mode, for this process and the command's: a data
    directory of the test run's kind (settings_test keeps it), its root.key, no SM_ROOT_KEY."""
    data_dir = tmp_path / f"{TEST_DATA_PREFIX}rotation"
    data_dir.mkdir(mode=0o700)
    path = data_dir / "root.key"
    with override_settings(SM_ROOT_KEY="", SM_ROOT_KEYS_OLD=[], SM_ROOT_KEY_FILE=path):
        crypto.reset_keyring_cache()
        yield path, {"SM_DATA_DIR": str(data_dir), "SM_ROOT_KEY": ""}
    crypto.reset_keyring_cache()


def test_an_interrupted_key_file_rotation_leaves_everything_readable_and_reruns(key_file):
    path, env = key_file
    secrets = populate()
    old = crypto.read_key_file(path).active_id
    before = open_every_sealed_value()
    total = len(before)
    assert total > KILLED_AFTER + BATCH, "enough data keys for the kill to fall halfway"

    killed = rotate(env, killed_after=KILLED_AFTER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    halfway = crypto.read_key_file(path)
    assert old in halfway.keys and halfway.active_id != old, "both keys stay in the file"
    assert key_ids() == {halfway.active_id: 2 * BATCH, old: total - 2 * BATCH}
    assert_all_consistent(secrets, before)

    rerun = rotate(env)
    assert rerun.returncode == 0, rerun.stderr
    final = crypto.read_key_file(path)
    assert list(final.keys) == [final.active_id] and final.active_id not in (old, halfway.active_id)
    assert f"{total} data keys re-wrapped" in rerun.stdout
    assert key_ids() == {final.active_id: total}
    assert_all_consistent(secrets, before)


def test_an_interrupted_sm_root_key_rotation_leaves_everything_readable_and_reruns():
    old, new = crypto.generate_root_key(), crypto.generate_root_key()
    with override_settings(SM_ROOT_KEY=b64(old), SM_ROOT_KEYS_OLD=[]):
        crypto.reset_keyring_cache()
        secrets = populate()
        before = open_every_sealed_value()
    total = len(before)
    transition = {"SM_ROOT_KEY": b64(new), "SM_ROOT_KEYS_OLD": b64(old)}

    killed = rotate(transition, killed_after=KILLED_AFTER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert key_ids() == {
        crypto.key_id_for(new): 2 * BATCH,
        crypto.key_id_for(old): total - 2 * BATCH,
    }
    with override_settings(SM_ROOT_KEY=b64(new), SM_ROOT_KEYS_OLD=[b64(old)]):
        crypto.reset_keyring_cache()
        assert_all_consistent(secrets, before)

    rerun = rotate(transition)
    assert rerun.returncode == 0, rerun.stderr
    assert f"Re-wrapped {total - 2 * BATCH} data keys" in rerun.stdout
    assert key_ids() == {crypto.key_id_for(new): total}
    with override_settings(SM_ROOT_KEY=b64(new), SM_ROOT_KEYS_OLD=[]):
        crypto.reset_keyring_cache()
        assert_all_consistent(secrets, before)
    crypto.reset_keyring_cache()
