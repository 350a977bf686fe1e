#!/usr/bin/env python
"""Django's command-line utility for the Secrets Manager Console.

It works on the instance that `make run` serves from the data directory (SM_DATA_DIR, default
var/): the settings read `$SM_DATA_DIR/instance.env` for what the environment does not set. A
configuration error is one line on stderr and exit status 2 (`--traceback` shows where).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    from console.startup import one_line_errors

    with one_line_errors(show_traceback="--traceback" in sys.argv):
        from django.conf import settings
        from django.core.management import execute_from_command_line

        from console import instance

        if not any(arg.startswith("--settings") for arg in sys.argv[1:]):
            # Load the settings before Django does: it would report their error as a traceback.
            instance.require_env_only(settings.DATA_DIR)
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
