"""Supervise one Code Engine job run. Started by the job runner, not by people.

The run's extra environment arrives as JSON on standard input, so that secrets never appear in
argv (visible to every local user) or on disk.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from engines_app.providers.embedded.code_engine.services import job_run_supervise, job_runs_cleanup
from secrets_app.services.custom_credentials import secret_task_run_finished


class Command(BaseCommand):
    help = "Run one job run to completion or its deadline (internal)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("run_pk", type=int)

    def handle(self, *args: Any, run_pk: int, **options: Any) -> None:
        try:
            extra_env = json.loads(sys.stdin.read() or "{}")
        except json.JSONDecodeError:
            raise CommandError("expected the run's environment as JSON on standard input") from None
        outcome = job_run_supervise(
            run_pk=run_pk, extra_env={str(k): str(v) for k, v in extra_env.items()}
        )
        if outcome is None:
            self.stdout.write(f"run {run_pk}: not pending, nothing to do")
            return
        secret_task_run_finished(
            task_id=outcome.run_name,
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
            timeout_seconds=outcome.timeout_seconds,
        )
        job_runs_cleanup()
        self.stdout.write(f"run {outcome.run_name}: {outcome.status} (exit {outcome.exit_code})")
