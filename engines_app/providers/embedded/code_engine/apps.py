from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class CodeEngineConfig(AppConfig):
    name = "engines_app.providers.embedded.code_engine"
    label = "code_engine"
    verbose_name = "Embedded Code Engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from engines_app.providers.embedded.code_engine.checks import (
            job_sandbox_check,
            jobs_dir_check,
        )
        from engines_app.providers.embedded.code_engine.sandbox import (
            sandbox_status,
            warn_if_unsandboxed,
        )

        checks.register(job_sandbox_check, checks.Tags.security)
        checks.register(jobs_dir_check, checks.Tags.security)
        # The operator's folder of job programs exists from the start (readable by the jobs' uid).
        Path(settings.SM_JOBS_DIR).mkdir(parents=True, exist_ok=True, mode=0o755)
        # Every process that could start jobs (web server, worker, commands) says so at start-up.
        warn_if_unsandboxed(sandbox_status())
