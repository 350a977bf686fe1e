"""Errors that stop a command before it can work, reported as one line on stderr.

`manage.py` and `make run` (through `python -m console.instance`) run inside one_line_errors():
a configuration mistake (ImproperlyConfigured), a database that cannot be opened or reached
(OperationalError) or a StartupError prints one line and exits with status 2, instead of a
traceback. `--traceback` on a manage.py command line shows the traceback again.

The line never holds a secret: the values of SECRET_KEY and the root keys, and the passwords in
DATABASE_URL and REDIS_URL, are replaced by "[redacted]" wherever they would appear.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.db.utils import OperationalError

EXIT_STATUS = 2
_SECRET_VARIABLES = ("SECRET_KEY", "SM_ROOT_KEY")
_URL_VARIABLES = ("DATABASE_URL", "REDIS_URL")


class StartupError(Exception):
    """A condition that stops a command before it starts, other than a configuration mistake."""


def _secrets() -> list[str]:
    values = [os.environ.get(name, "") for name in _SECRET_VARIABLES]
    values += os.environ.get("SM_ROOT_KEYS_OLD", "").split(",")
    for name in _URL_VARIABLES:
        try:
            password = urlsplit(os.environ.get(name, "")).password
        except ValueError:
            password = None
        if password:
            values += [password, unquote(password)]
    try:
        from django.conf import settings

        if settings.configured:
            values.append(str(settings.SECRET_KEY))
    except ImproperlyConfigured:
        pass
    return sorted({v.strip() for v in values if len(v.strip()) >= 4}, key=len, reverse=True)


def redact(text: str) -> str:
    for value in _secrets():
        text = text.replace(value, "[redacted]")
    return text


def one_line(text: str) -> str:
    """The message on one line: a multi-line driver error becomes "first; second"."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _source_hint(message: str) -> str:
    """Where a variable named in the message came from, when it was the instance settings file."""
    from console.instance import loaded_from_file

    for name, path in loaded_from_file().items():
        if re.search(rf"\b{re.escape(name)}\b", message):
            return f" ({name} is set in {path})"
    return ""


def _database() -> str:
    try:
        from django.db import connection

        config = connection.settings_dict
    except Exception:  # the settings themselves may be what failed
        return ""
    engine = str(config.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        return f" (SQLite file {config.get('NAME')})"
    host = f"{config.get('HOST') or 'local socket'}:{config.get('PORT') or 'default port'}"
    return f" (database {config.get('NAME')!s} on {host})"


def fail(message: str) -> None:
    """Print one line on stderr and exit with EXIT_STATUS."""
    print(redact(one_line(message)), file=sys.stderr)
    raise SystemExit(EXIT_STATUS)


@contextmanager
def one_line_errors(*, show_traceback: bool = False) -> Iterator[None]:
    try:
        yield
    except StartupError as exc:
        fail(str(exc))
    except ImproperlyConfigured as exc:
        if show_traceback:
            raise
        message = one_line(str(exc))
        fail(f"Configuration error: {message}{_source_hint(message)}")
    except OperationalError as exc:
        if show_traceback:
            raise
        message = one_line(str(exc))
        hint = "; run `.venv/bin/python manage.py migrate`" if "no such table" in message else ""
        source = _source_hint("DATABASE_URL SQLITE_PATH")
        fail(f"Database error: {message}{_database()}{hint}{source}")
