from __future__ import annotations

from django.apps import AppConfig


class EnginesAppConfig(AppConfig):
    name = "engines_app"
    verbose_name = "Secrets engines"

    def ready(self) -> None:
        from console.audit import register_audit_reader_check
        from engines_app.providers.access import can_read_audit_log
        from engines_app.providers.code_engine import (
            register_job_inspector,
            register_job_user_finder,
        )
        from engines_app.schema import inspect_declarations
        from engines_app.services import configurations_using_job

        register_job_user_finder(configurations_using_job)
        register_job_inspector(inspect_declarations)
        # Who may open the Audit page: the kernel asks this layer's IAM (Manager on the instance).
        register_audit_reader_check(can_read_audit_log)
