from __future__ import annotations

from django.apps import AppConfig


class ResourceControllerConfig(AppConfig):
    name = "engines_app.providers.embedded.resource_controller"
    label = "resource_controller"
    verbose_name = "Embedded resource controller"
    default_auto_field = "django.db.models.BigAutoField"
