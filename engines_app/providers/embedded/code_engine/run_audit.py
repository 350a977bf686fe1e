"""The audit log's record of job runs: one row when a run is started, one when it ends.

A run is started and ended by Secrets Manager itself (the job runner dispatches secret tasks; a
supervising thread or the cleanup sweep ends them), so the actor is the system. Rows name the
run (its name is the secret task's id), the job and the project, and never a variable's value.
"""

from __future__ import annotations

from console.audit import audit_record
from console.identity import SYSTEM
from engines_app.providers.embedded.code_engine.models import JobRun


def audit_run_started(run: JobRun) -> None:
    audit_record(
        actor=SYSTEM,
        action="code_engine.job_run.start",
        object_type="ce_job_run",
        object_id=run.name,
        object_name=run.job.name,
        detail={
            "project_id": run.project_id,
            "job": run.job.name,
            "timeout_seconds": run.timeout_seconds,
            "sandboxed": run.sandboxed,
        },
    )


def audit_run_ended(run: JobRun, *, status: str, exit_code: int | None, note: str = "") -> None:
    audit_record(
        actor=SYSTEM,
        action="code_engine.job_run.end",
        object_type="ce_job_run",
        object_id=run.name,
        object_name=run.job.name,
        detail={
            "project_id": run.project_id,
            "job": run.job.name,
            "status": status,
            "exit_code": exit_code,
            **({"note": note} if note else {}),
        },
    )
