from __future__ import annotations

from django.apps import AppConfig


class SecretsAppConfig(AppConfig):
    name = "secrets_app"
    verbose_name = "Secrets"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from console.wizards import register_wizards
        from engines_app.panels import register_configuration_panel
        from engines_app.ports import register_key_secret_lookup
        from engines_app.providers.code_engine import job_run_finished, register_task_page_finder
        from engines_app.providers.resource_controller import register_key_visibility
        from secrets_app.permissions import visible_resource_key_crns
        from secrets_app.search_index import repair_after_migrate
        from secrets_app.services.config_tests import on_secret_task_finished
        from secrets_app.services.custom_credentials import on_job_run_finished
        from secrets_app.services.iam_credentials import key_secret_lookup
        from secrets_app.services.inbox import on_secret_task_finished as inbox_on_task_finished
        from secrets_app.signals import secret_task_finished
        from secrets_app.task_links import task_page_urls
        from secrets_app.views.config_tests import configuration_panel
        from secrets_app.wizards import WIZARDS

        job_run_finished.connect(on_job_run_finished, dispatch_uid="secrets-task-run-finished")
        secret_task_finished.connect(on_secret_task_finished, dispatch_uid="config-test-probe")
        secret_task_finished.connect(inbox_on_task_finished, dispatch_uid="inbox-succeeded-later")
        register_wizards(*WIZARDS.values())
        register_key_visibility(visible_resource_key_crns)
        register_configuration_panel(configuration_panel)
        register_key_secret_lookup(key_secret_lookup)
        register_task_page_finder(task_page_urls)
        post_migrate.connect(repair_after_migrate, sender=self, dispatch_uid="search-index-repair")
