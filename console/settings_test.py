"""Settings for the test suite: the normal settings with a throwaway data directory."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import cast

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# A throwaway data directory of the test run's own, even when the shell exports SM_DATA_DIR
# (that directory's instance.env must not leak into the tests). A process the tests start with
# these settings (a qcluster, `manage.py serve`) inherits the run's directory, recognised by
# its prefix. The process that made the directory removes it when it exits (a fork of it, which
# inherits the exit handler, leaves it to its parent), so that a test run, `mypy .` or `manage.py
# check` leaves nothing behind in the temporary directory.
TEST_DATA_PREFIX = "sm-test-data-"


def _remove_when_done(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


if not Path(os.environ.get("SM_DATA_DIR", "")).name.startswith(TEST_DATA_PREFIX):
    os.environ["SM_DATA_DIR"] = tempfile.mkdtemp(prefix=TEST_DATA_PREFIX)
    atexit.register(_remove_when_done, os.environ["SM_DATA_DIR"], os.getpid())
# A fixed root key keeps tests independent of key-file creation, which has its own tests.
os.environ.setdefault("SM_ROOT_KEY", "dGVzdC1yb290LWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=")

from console.settings import *  # noqa: E402,F403
from console.settings import DATA_DIR, DATABASES  # noqa: E402

if cast(str, DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
    # A file, not :memory:, so that a qcluster subprocess and the canary scan can see it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the source folders, as the demo does, without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
