"""Private files under the data directory: created once with mode 0600, refused if others can read.

Used for the demo's Django SECRET_KEY (one per data directory). The root key file has its own
format and rotation logic in secrets_app.crypto, with the same permission rule.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def read_private_file(path: Path) -> str:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {_reason(exc)}") from None
    if mode & 0o077:
        raise ImproperlyConfigured(
            f"{path} is accessible by other users (mode {mode:o}); run chmod 600 on it"
        )
    try:
        value = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {_reason(exc)}") from None
    if not value:
        raise ImproperlyConfigured(f"{path} is empty; delete it to have a new one created")
    return value


def _reason(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def private_file_value(path: Path, *, generate: Callable[[], str]) -> str:
    """The file's content; on first use, a generated value written atomically with mode 0600.

    The value goes to a temporary file that is then hard-linked into place: the link fails if
    the file exists, so two processes racing on first use agree on one value, and nobody ever
    reads a half-written file.
    """
    if path.exists():
        return read_private_file(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its value
            os.link(tmp, path)
    except OSError as exc:
        raise ImproperlyConfigured(f"{path} cannot be created: {_reason(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return read_private_file(path)
