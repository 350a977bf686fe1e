from __future__ import annotations

from django.contrib import admin

from console.admin import ReadMostlyAdmin
from engines_app.models import Configuration


@admin.register(Configuration)
class ConfigurationAdmin(ReadMostlyAdmin):
    list_display = (
        "name",
        "config_type",
        "code_engine_region",
        "code_engine_job_name",
        "task_timeout",
        "disabled",
    )
    list_filter = ("config_type",)
    search_fields = ("name", "code_engine_job_name")
