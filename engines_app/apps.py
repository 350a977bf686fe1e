from __future__ import annotations

from django.apps import AppConfig


class EnginesAppConfig(AppConfig):
    name = "engines_app"
    verbose_name = "Secrets engines"

    def ready(self) -> None:
        from engines_app.providers.code_engine import (
            register_job_inspector,
            register_job_user_finder,
        )
        from engines_app.schema import inspect_declarations
        from engines_app.services import configurations_using_job

        register_job_user_finder(configurations_using_job)
        register_job_inspector(inspect_declarations)
