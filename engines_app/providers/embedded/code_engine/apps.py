from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class CodeEngineConfig(AppConfig):
    name = "engines_app.providers.embedded.code_engine"
    label = "code_engine"
    verbose_name = "Embedded Code Engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from engines_app.providers.embedded.code_engine.checks import job_sandbox_check
        from engines_app.providers.embedded.code_engine.sandbox import (
            sandbox_status,
            warn_if_unsandboxed,
        )

        checks.register(job_sandbox_check, checks.Tags.security)
        # Every process that could start jobs (web server, worker, commands) says so at start-up.
        warn_if_unsandboxed(sandbox_status())
