from __future__ import annotations

from django.apps import AppConfig


class IamConfig(AppConfig):
    name = "engines_app.providers.embedded.iam"
    label = "iam"
    verbose_name = "Embedded IAM"
    default_auto_field = "django.db.models.BigAutoField"
