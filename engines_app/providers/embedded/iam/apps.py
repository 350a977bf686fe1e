from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


class IamConfig(AppConfig):
    name = "engines_app.providers.embedded.iam"
    label = "iam"
    verbose_name = "Embedded IAM"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from engines_app.providers.embedded.iam.signals import make_iam_user

        post_save.connect(
            make_iam_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="iam.make_iam_user"
        )
