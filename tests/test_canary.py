"""Secret values never reach the database file in clear text."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from console.models import AuditEvent
from secrets_app import services
from tests.factories import create_secret, factory_actor


@pytest.mark.django_db(transaction=True)
def test_canary_payload_is_never_stored_in_clear(capsys):
    if connection.vendor != "sqlite":
        pytest.skip("scans the SQLite database file")
    canary = f"CANARY-{secrets.token_hex(16)}"
    # Control: the same scan must find a marker stored in a non-secret field, or it proves nothing.
    control = f"CONTROL-{secrets.token_hex(16)}"
    create_secret(name="control-secret", payload="irrelevant", description=control)
    secret = create_secret(
        name="canary-secret", payload=canary, version_custom_metadata={"note": "not secret"}
    )
    services.arbitrary_secret_rotate(
        actor=factory_actor(), secret_id=secret.pk, payload=canary + "-v2"
    )
    # Prove the value is really in there, then read it the audited way.
    current = secret.versions.get(alias="current")
    assert (
        services.secret_version_payload_read(actor=factory_actor(), version_id=current.pk)
        == canary + "-v2"
    )
    assert AuditEvent.objects.filter(action="secret.read_payload").exists()

    db_path = Path(connection.settings_dict["NAME"])
    files = [p for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")) if p.exists()]
    assert db_path in files
    counts = _count_elsewhere(files, canary)
    assert sum(_count_elsewhere(files, control).values()) > 0, "the scan sees stored data"
    sizes = {p.name: p.stat().st_size for p in files}
    with capsys.disabled():
        print(f"\ncanary scan: {counts} occurrences in {sizes} bytes")
    assert sum(counts.values()) == 0


def _count_elsewhere(files: list[Path], needle: str) -> dict[str, int]:
    """Count in another process. Closing a file descriptor of the database in this process would
    drop every POSIX lock this process holds on it, SQLite's own included: the next process to
    open the database would then reset the shared-memory file under this process's mapping,
    which kills it with SIGBUS."""
    code = (
        "import json, sys; needle = sys.argv[1].encode(); "
        "print(json.dumps({p.rsplit('/', 1)[-1]: open(p, 'rb').read().count(needle) "
        "for p in sys.argv[2:]}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, needle, *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))
