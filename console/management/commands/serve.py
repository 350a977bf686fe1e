"""Serve the console and run the django-q2 cluster in one foreground command.

Ctrl-C (or SIGTERM) stops both; if either exits on its own, the other is stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


class Command(BaseCommand):
    help = "Run the web server and the background worker together (used by `make run`)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        web = subprocess.Popen(
            [sys.executable, MANAGE, "runserver", f"{host}:{port}", "--noreload"]
        )
        worker = subprocess.Popen([sys.executable, MANAGE, "qcluster"])
        children = {"web server": web, "worker": worker}
        self.stdout.write(
            f"Console: http://{host}:{port}/  (worker pid {worker.pid}; Ctrl-C stops both)"
        )
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exited = ""
        while not stopping:
            for name, proc in children.items():
                if proc.poll() is not None:
                    exited = name
                    stopping = True
            time.sleep(0.2)
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if exited:
            raise CommandError(
                f"The {exited} exited unexpectedly (code {children[exited].returncode}); stopped the rest."
            )
        self.stdout.write("Stopped the web server and the worker.")
