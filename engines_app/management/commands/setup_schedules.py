from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from engines_app.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Create or update the recurring background tasks (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Schedules: " + ", ".join(ensure_schedules()))
