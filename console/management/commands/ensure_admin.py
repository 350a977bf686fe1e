"""Create the admin user on first run and print its password once."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin superuser if missing (DJANGO_SUPERUSER_USERNAME / _PASSWORD)."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        given = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        user = User.objects.filter(username=username).first()
        if user is None:
            password = given or secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, password=password, email="")
            shown = "(from DJANGO_SUPERUSER_PASSWORD)" if given else password
            self.stdout.write(f"Admin login: {username} / {shown}")
            if not given:
                self.stdout.write("This password is shown only once. Keep it somewhere safe.")
            return
        if given:
            # Re-hashing the same password gives a new salt, hence a new session auth hash,
            # which would sign the admin out on every run: change it only when it differs.
            if not user.check_password(given):
                user.set_password(given)
                user.save(update_fields=["password"])
            self.stdout.write(f"Admin login: {username} / (from DJANGO_SUPERUSER_PASSWORD)")
        else:
            self.stdout.write(
                f"Admin login: {username} / the password printed when it was created "
                f"(reset it with: .venv/bin/python manage.py changepassword {username})"
            )
