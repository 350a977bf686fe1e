"""The test settings' throwaway data directory does not outlive the process that made it.

Every `make test` imports console.settings_test in several processes (mypy's Django plugin,
`manage.py check`, `makemigrations --check`, pytest); each one that made a directory removes it
when it exits, and a fork of it (which inherits the exit handler) leaves it alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from console.settings_test import TEST_DATA_PREFIX

# Makes the directory, forks a child that exits the normal way (running the inherited exit
# handlers), then reports whether the directory survived the child.
_SCRIPT = """
import os, sys
import console.settings_test
made = os.environ["SM_DATA_DIR"]
print(made)
child = os.fork()
if child == 0:
    sys.exit(0)
os.waitpid(child, 0)
print(os.path.isdir(made))
"""


def _without_data_dir(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SM_DATA_DIR"}
    env["TMPDIR"] = str(tmp_path)
    return env


def test_the_process_that_made_the_data_dir_removes_it_and_its_forks_do_not(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env=_without_data_dir(tmp_path),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    made, survived_the_fork = done.stdout.split()
    assert Path(made).parent == tmp_path
    assert Path(made).name.startswith(TEST_DATA_PREFIX)
    assert survived_the_fork == "True"
    assert not Path(made).exists()
    assert not list(tmp_path.iterdir())


def test_manage_py_check_with_the_test_settings_leaves_no_data_dir(tmp_path: Path) -> None:
    env = _without_data_dir(tmp_path) | {"DJANGO_SETTINGS_MODULE": "console.settings_test"}
    subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert not list(tmp_path.iterdir())


def test_a_process_given_a_test_data_dir_keeps_it(tmp_path: Path) -> None:
    given = tmp_path / f"{TEST_DATA_PREFIX}given"
    given.mkdir()
    env = _without_data_dir(tmp_path) | {"SM_DATA_DIR": str(given)}
    subprocess.run(
        [sys.executable, "-c", "import console.settings_test"],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        timeout=60,
    )
    assert given.is_dir()
