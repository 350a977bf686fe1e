"""Create a custom credentials secret from the shell; the worker then runs its provider job."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from console.errors import ServiceError
from console.identity import SYSTEM
from secrets_app.models import SecretGroup
from secrets_app.services.custom_credentials import custom_credentials_secret_create


def _param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise CommandError(f"--param takes key=value, got {text!r}")
    try:
        value = json.loads(raw)  # 90 -> int, true -> bool
    except json.JSONDecodeError:
        value = raw
    return key, value if isinstance(value, int | bool) else raw


class Command(BaseCommand):
    help = "Create a custom credentials secret, e.g. --configuration token-provider --param user_name=alice"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--configuration", required=True)
        parser.add_argument(
            "--group", default="default", help="secret group name (default: default)"
        )
        parser.add_argument(
            "--param", action="append", default=[], type=_param, help="key=value, repeatable"
        )
        parser.add_argument("--description", default="")

    def handle(
        self,
        *args: Any,
        name: str,
        configuration: str,
        group: str,
        param: list[tuple[str, Any]],
        description: str,
        **options: Any,
    ) -> None:
        found = SecretGroup.objects.filter(name=group).first()
        if found is None:
            raise CommandError(f"no secret group named {group!r}")
        try:
            secret = custom_credentials_secret_create(
                actor=SYSTEM,
                name=name,
                configuration=configuration,
                parameters=dict(param),
                secret_group_id=found.pk,
                description=description,
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{secret.pk} created in pre_activation; its create_credentials task is queued."
        )
