"""Credentials provider jobs that misbehave on cue, built on the sample jobs' own protocol helper.

Each is a `{python} -c` script for an embedded Code Engine job. It imports the sample jobs'
`_protocol` (the HTTP client with its bounded retries) and the token provider, so what it reports
is a real token of the embedded token service, and a refused report is undone as the sample job
undoes it. The job's sandbox shows it the sample jobs' folder and the external folder, where the
test opens gates.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from engines_app import services as engine_services
from engines_app.models import Configuration
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import JobRun
from engines_app.sample_jobs import token_service
from secrets_app import seed
from secrets_app.models import Secret, SecretVersion
from secrets_app.services.versions import payload_open

_PRELUDE = """
import os, sys, time
sys.path.insert(0, "{sample_jobs_dir}")
import _protocol, token_provider
"""

# Creates its token only once the test opens its gate (a file named after the task).
GATED = (
    _PRELUDE
    + """
def create(ctx):
    gate = os.path.join(os.environ["GATE_DIR"], ctx.task_id)
    ctx.log("waiting at the gate")
    while not os.path.exists(gate):
        time.sleep(0.02)
    ctx.log("through the gate")
    return token_provider.create(ctx)

raise SystemExit(_protocol.main(token_provider.PROVIDER.replace(create=create)))
"""
)

# Authenticates, then dies of a signal (a segmentation fault) before it reports anything.
CRASHING = (
    _PRELUDE
    + """
import signal

def create(ctx):
    ctx.log("about to crash")
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(60)

raise SystemExit(_protocol.main(token_provider.PROVIDER.replace(create=create)))
"""
)

TOKEN_JOB_ENV = {
    "SMIN_USER_NAME": "type:string, required:true",
    "SMOUT_TOKEN": "type:string, required:true",
    "TOKEN_SERVICE_DB": "{external_dir}/token-service/tokens.sqlite3",
    "CE_REMOVE_COMPLETED_JOBS": "1d",
}


@dataclass
class Gate:
    """A folder the jobs can see; opening a task's gate lets its GATED job go on."""

    folder: Path

    @property
    def env_value(self) -> str:
        return "{external_dir}/" + self.folder.name

    def open(self, task_id: str) -> None:
        (self.folder / task_id).write_text("go")


def new_gate() -> Gate:
    folder = Path(settings.SM_EXTERNAL_DIR) / f"gate-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, mode=0o755)
    return Gate(folder)


def job_configuration(
    cloud: dict[str, Any], *, name: str, script: str, gate: Gate | None = None
) -> Configuration:
    """A Code Engine job running `script`, and the custom credentials configuration on it."""
    env = {**TOKEN_JOB_ENV, **({"GATE_DIR": gate.env_value} if gate else {})}
    ce.job_create(
        actor=cloud["actor"],
        project=cloud["project"],
        name=name,
        command=["{python}", "-c", script],
        env=env,
    )
    return engine_services.custom_configuration_create(
        actor=cloud["actor"],
        name=name,
        region="us-south",
        project_id=cloud["project"].pk,
        job_name=name,
        api_key_ref=str(Secret.objects.get(name=seed.JOB_KEY_SECRET).pk),
        task_timeout="10m",
    )


def raw_output(task_id: str, stream: str = "stdout") -> str:
    """What the job of a task has written so far: its raw log while it runs (the test reads it as
    the console's supervisor does), the stored, redacted one once it ended."""
    run = JobRun.objects.filter(name=task_id).first()
    if run is None:
        return ""
    if run.ended_at is not None:
        return str(getattr(run, stream))
    path = ce._run_dir(run) / f"{stream}.log"
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def processes_of(task_id: str) -> list[int]:
    """Live processes of this host whose environment names the task (its job's processes)."""
    marker = f"SM_SECRET_TASK_ID={task_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def token_is_live(version: SecretVersion) -> bool:
    """Whether the token this version stores still exists at the embedded token service."""
    rows = {row["id"]: row for row in token_service.list_tokens(seed.token_service_path())}
    row = rows.get(version.credentials_id)
    payload = payload_open(version)
    assert isinstance(payload, dict)
    return bool(
        row and row["token_sha256"] == hashlib.sha256(payload["token"].encode()).hexdigest()
    )
