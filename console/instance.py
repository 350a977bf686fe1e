"""The instance settings file: the settings that `make run` serves a data directory with.

`make run` (scripts/run.sh, through `python -m console.instance prepare`) records them in
`$SM_DATA_DIR/instance.env`, mode 0600. The settings module reads that file for every variable
that the environment does not set (the environment always wins), so that `manage.py` in a second
shell works on the instance that `make run` serves, and a later `make run` serves the same
instance again: same port, same database, same keys.

The file never holds SECRET_KEY or a root key. The demo's SECRET_KEY is referred to by its file
(SECRET_KEY_FILE). A SECRET_KEY or root key that the server got from its environment is only
named in SM_ENV_ONLY, so that a shell without it stops with a clear error instead of working
with another key (which would sign tasks the worker rejects, or seal payloads the server cannot
open).

The format is one `NAME=value` per line, each value quoted for the shell (so `set -a;
. instance.env` works too), and `#` comments. Only the variables in RECORDED are accepted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shlex
import socket
import stat
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from console.env import parse_bool
from console.keyfile import private_file_value, read_private_file
from console.startup import StartupError, one_line_errors

BASE_DIR = Path(__file__).resolve().parent.parent
FILE_NAME = "instance.env"
LOCK_NAME = "run.lock"
ENV_ONLY = "SM_ENV_ONLY"
# What identifies an instance and what manage.py needs to act on it. Process tuning (Q_WORKERS,
# LOG_LEVEL, throttles) stays with each process's own environment.
RECORDED = (
    "DEBUG",
    "PORT",
    "SM_PUBLIC_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "SQLITE_PATH",
    "REDIS_URL",
    "SECRET_KEY_FILE",
    "SM_ACCOUNT_ID",
    "SM_REGION",
    "SM_INSTANCE_ID",
    "SM_JOBS_DIR",
    "SM_JOB_SANDBOX",
    "SM_JOB_BWRAP",
    "SM_JOB_UID",
    ENV_ONLY,
)
# Recorded as absolute paths, so that the file means the same from any working directory.
PATHS = frozenset({"SQLITE_PATH", "SECRET_KEY_FILE", "SM_JOBS_DIR"})
# Secrets that are never written down: only their presence in the server's environment is.
SECRETS = ("SECRET_KEY", "SM_ROOT_KEY", "SM_ROOT_KEYS_OLD")
DEMO_DEFAULTS = {"DEBUG": "1", "PORT": "8000"}

_loaded: dict[str, Path] = {}

HEADER = """\
# The settings `make run` serves this data directory with, written by scripts/run.sh.
# manage.py and the console read it for every variable the environment does not set; the
# environment wins. It never holds SECRET_KEY or a root key (SM_ENV_ONLY names those that the
# server got from its environment only: set them in any shell that runs manage.py).
"""


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """SM_DATA_DIR (default var/ in the project), created with mode 0700; a configuration error
    if it cannot be used."""
    raw = environ.get("SM_DATA_DIR", "").strip()
    path = Path(raw).expanduser().resolve() if raw else BASE_DIR / "var"
    if path.exists() and not path.is_dir():
        raise ImproperlyConfigured(f"SM_DATA_DIR {path} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"SM_DATA_DIR {path} cannot be created: {exc.strerror or exc}"
        ) from None
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise ImproperlyConfigured(f"SM_DATA_DIR {path} must be readable and writable by this user")
    return path


def instance_file(directory: Path) -> Path:
    return directory / FILE_NAME


def parse(text: str, *, source: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, raw = line.partition("=")
        name = name.strip()
        if not sep or name not in RECORDED:
            known = ", ".join(RECORDED)
            raise ImproperlyConfigured(
                f"{source} line {number}: expected NAME=value with NAME one of {known}"
            )
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{source} line {number}: {exc}") from None
        if len(words) > 1:
            raise ImproperlyConfigured(f"{source} line {number}: quote a value that holds spaces")
        values[name] = words[0] if words else ""
    return values


def read(path: Path) -> dict[str, str]:
    """The recorded settings, or {} without a file. A file that others can read is refused."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise ImproperlyConfigured(
            f"{path} is accessible by other users (mode {mode:o}); run chmod 600 on it"
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {exc}") from None
    return parse(text, source=path)


def load_into_environ(
    directory: Path, environ: MutableMapping[str, str] = os.environ
) -> dict[str, str]:
    """Add the recorded settings that the environment does not set; return what was added."""
    path = instance_file(directory)
    added = {name: value for name, value in read(path).items() if name not in environ}
    environ.update(added)
    _loaded.update(dict.fromkeys(added, path))
    return added


def loaded_from_file() -> dict[str, Path]:
    """The variables this process took from an instance settings file, and that file."""
    return dict(_loaded)


def env_only(environ: Mapping[str, str] = os.environ) -> list[str]:
    return [n.strip() for n in environ.get(ENV_ONLY, "").split(",") if n.strip()]


def _env_only_message(name: str, directory: Path) -> str:
    return (
        f"{name} must be set in this shell too: the instance in {directory} was started with "
        f"{name} in its environment, which {FILE_NAME} does not record"
    )


def require_env_only(directory: Path, environ: Mapping[str, str] = os.environ) -> None:
    """Stop a shell that lacks a secret the server was given in its environment."""
    for name in env_only(environ):
        if not environ.get(name):
            raise ImproperlyConfigured(_env_only_message(name, directory))


def secret_key(directory: Path, *, debug: bool, environ: Mapping[str, str] = os.environ) -> str:
    """SECRET_KEY, else SECRET_KEY_FILE's content, else (under DEBUG) the data directory's
    generated `secret.key`."""
    if value := environ.get("SECRET_KEY", ""):
        return value
    if "SECRET_KEY" in env_only(environ):
        raise ImproperlyConfigured(_env_only_message("SECRET_KEY", directory))
    if path := environ.get("SECRET_KEY_FILE", "").strip():
        try:
            return read_private_file(Path(path).expanduser())
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"SECRET_KEY_FILE: {exc}") from None
    if not debug:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off: set SECRET_KEY or SECRET_KEY_FILE, or "
            f"DEBUG=1 for local use (no `make run` has recorded its settings in {directory})"
        )
    # Random per data directory (0600), never a constant: it signs sessions and the embedded
    # IAM's access tokens, so a known key would let anyone forge either.
    return private_file_value(demo_secret_key_file(directory), generate=_new_secret_key)


def demo_secret_key_file(directory: Path) -> Path:
    return directory / "secret.key"


def _new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def render(values: Mapping[str, str]) -> str:
    lines = [f"{name}={shlex.quote(values[name])}" for name in RECORDED if name in values]
    return HEADER + "\n".join(lines) + "\n"


def write(path: Path, values: Mapping[str, str]) -> None:
    """Replace the file atomically; it is created with mode 0600 and never exists wider."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(render(values))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ImproperlyConfigured(f"{path} cannot be written: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _lock_probe(directory: Path) -> Iterator[bool]:
    """Whether no `make run` holds the data directory's lock (scripts/run.sh holds it while it
    serves). The probe takes the lock and gives it back on leaving."""
    with open(directory / LOCK_NAME, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _port_is_free(port: int) -> bool:
    """Whether the server can listen on the port (which, like it, ignores closed connections
    that linger in TIME_WAIT)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _check_database() -> None:
    import django
    from django.db import connection

    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
    django.setup()
    connection.ensure_connection()
    connection.close()


def run_settings(
    environ: Mapping[str, str], recorded: Mapping[str, str], directory: Path
) -> dict[str, str]:
    """What a `make run` serves with: the environment, then the recorded settings, then the
    demo's defaults (DEBUG=1, PORT=8000)."""
    values = {name: environ[name] for name in RECORDED if name in environ}
    values |= {name: value for name, value in recorded.items() if name not in values}
    values = {name: value for name, value in values.items() if name != ENV_ONLY}
    for name, default in DEMO_DEFAULTS.items():
        values.setdefault(name, default)
    for name in PATHS & values.keys():
        if values[name].strip():
            values[name] = str(Path(values[name].strip()).expanduser().resolve())
    given = [name for name in SECRETS if environ.get(name)]
    if given:
        values[ENV_ONLY] = ",".join(given)
    if "SECRET_KEY" in given:
        values.pop("SECRET_KEY_FILE", None)  # the environment's key wins; never record another
    elif not values.get("SECRET_KEY_FILE") and parse_bool("DEBUG", values["DEBUG"]):
        values["SECRET_KEY_FILE"] = str(demo_secret_key_file(directory))
    return values


def prepare(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Check and record the settings of the instance that `make run` is about to serve.

    Returns the variables that scripts/run.sh exports (SM_DATA_DIR and PORT; no secret).
    """
    directory = data_dir(environ)
    path = instance_file(directory)
    with _lock_probe(directory) as free:
        if not free:
            recorded_port = read(path).get("PORT", DEMO_DEFAULTS["PORT"])
            raise StartupError(
                f"The instance in {directory} is already served by another `make run` (port "
                f"{recorded_port}); stop that one first, or give this one its own SM_DATA_DIR "
                "and PORT."
            )
        recorded = read(path)
        values = run_settings(environ, recorded, directory)
        _loaded.update(dict.fromkeys(recorded.keys() & values.keys() - environ.keys(), path))
        if values.get("SECRET_KEY_FILE") == str(demo_secret_key_file(directory)):
            private_file_value(demo_secret_key_file(directory), generate=_new_secret_key)
        # Check the new settings as they will be read: the old file must not add to them.
        environ.update(values)
        environ[ENV_ONLY] = values.get(ENV_ONLY, "")
        environ["SM_DATA_DIR"] = str(directory)
        # Loading the settings checks every value, with the error that names its variable, and
        # the database must answer: a configuration that cannot serve is not recorded.
        from console import settings

        _check_database()
        if not _port_is_free(settings.PORT):
            raise StartupError(
                f"Port {settings.PORT} on 127.0.0.1 is already in use; stop what listens there, "
                f"or serve on another port: PORT={settings.PORT + 1} make run"
            )
        write(path, values)
    return {"SM_DATA_DIR": str(directory), "PORT": str(settings.PORT)}


def main(argv: list[str]) -> int:
    usage = "usage: python -m console.instance prepare   (used by `make run`, scripts/run.sh)"
    if argv != ["prepare"]:
        print(usage, file=sys.stderr)
        return 2
    with one_line_errors():
        exports = prepare()
        for name, value in exports.items():
            print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    # Run the imported module, not this __main__ copy: the error report reads its state.
    from console import instance as _imported

    sys.exit(_imported.main(sys.argv[1:]))
