from __future__ import annotations

from django.apps import AppConfig


class CodeEngineConfig(AppConfig):
    name = "engines_app.providers.embedded.code_engine"
    label = "code_engine"
    verbose_name = "Embedded Code Engine"
    default_auto_field = "django.db.models.BigAutoField"
