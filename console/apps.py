from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from console.reauth import stamp_on_login

        # Signing in counts as a recent password for re-authentication (console/reauth.py).
        user_logged_in.connect(stamp_on_login, dispatch_uid="console.reauth.stamp_on_login")
