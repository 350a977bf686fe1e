from __future__ import annotations

from django.apps import AppConfig


class EnginesAppConfig(AppConfig):
    name = "engines_app"
    verbose_name = "Secrets engines"
