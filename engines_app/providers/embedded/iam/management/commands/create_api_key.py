"""Print a new API key for a console user or a service ID, and nothing else (for scripts)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from console.identity import SYSTEM
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceId


class Command(BaseCommand):
    help = "Create an API key; its value is printed once on stdout."

    def add_arguments(self, parser: Any) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="console username")
        who.add_argument("--service-id", help="ServiceId-<uuid>")
        parser.add_argument("--name", default="", help="key name (default: derived from the owner)")

    def handle(
        self, *args: Any, user: str | None, service_id: str | None, name: str, **options: Any
    ) -> None:
        if user:
            account = get_user_model().objects.filter(username=user).first()
            if account is None:
                raise CommandError(f"no console user named {user!r}")
            _, value = iam.api_key_create(
                actor=SYSTEM, name=name or f"{user}-cli-key", user=iam.iam_user_for(account)
            )
        else:
            sid = ServiceId.objects.filter(pk=service_id).first()
            if sid is None:
                raise CommandError(f"no service ID {service_id!r}")
            _, value = iam.api_key_create(
                actor=SYSTEM, name=name or f"{sid.name}-key", service_id=sid
            )
        self.stdout.write(value)
