"""`manage.py check` (and runserver at start-up) say when job runs would not be sandboxed."""

from __future__ import annotations

from typing import Any

from django.core import checks

from engines_app.providers.embedded.code_engine.sandbox import jobs_dir_problem, sandbox_status


def job_sandbox_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    status = sandbox_status()
    if status.sandboxed:
        return []
    return [
        checks.Warning(
            status.describe(),
            hint="See README.md, section 'Job sandbox'.",
            id="code_engine.W001",
        )
    ]


def jobs_dir_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    problem = jobs_dir_problem()
    if not problem:
        return []
    return [
        checks.Warning(
            problem + " No job can run programs from it until SM_JOBS_DIR names its own folder.",
            hint="See README.md, section 'Code Engine jobs'.",
            id="code_engine.W002",
        )
    ]
