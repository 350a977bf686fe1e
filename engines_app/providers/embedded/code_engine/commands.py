"""What a Code Engine job may run on this host: the command policy (README "Code Engine jobs").

A job's command is an argv, the embedded equivalent of a container image. Running a job runs
that command on the console's host (inside the job sandbox), so the commands that people give
(the console pages, `manage.py create_code_engine_job`) are limited to:

- an executable file in the operator's jobs directory, SM_JOBS_DIR: `{jobs_dir}/my-provider`
  (a bare `my-provider` means the same), followed by any arguments;
- `{python}` (the console's own interpreter) followed by a script in SM_JOBS_DIR or among the
  bundled sample jobs: `{python} {sample_jobs_dir}/token_provider.py`, then any arguments.

Placeholders are expanded, then the program (or the script) is resolved: a path outside both
folders, a symlink that leads out of them, a missing file, a folder, or (for a program) a file
without an execute bit is refused with a field error that says which.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from engines_app.providers.embedded.code_engine import sandbox

PYTHON = "{python}"
JOBS_DIR = "{jobs_dir}"
SAMPLE_JOBS_DIR = "{sample_jobs_dir}"
COMMAND_MAX_LENGTH = 2000
_PLAIN = re.compile(r"^[^\s'\"\\]+$")


def expand(value: str) -> str:
    """A command part or a variable with its placeholders replaced by this host's paths.

    There is deliberately no placeholder for the data directory: jobs never see it.
    """
    return (
        value.replace(PYTHON, sys.executable)
        .replace("{base_dir}", str(settings.BASE_DIR))
        .replace("{external_dir}", str(settings.SM_EXTERNAL_DIR))
        .replace(JOBS_DIR, str(settings.SM_JOBS_DIR))
        .replace(SAMPLE_JOBS_DIR, str(settings.SM_SAMPLE_JOBS_DIR))
    )


def _error(message: str) -> ValidationError:
    return ValidationError({"command": message})


def parse(text: str) -> list[str]:
    """A command line as typed (shell-style quoting, no shell) into its argv."""
    if len(text) > COMMAND_MAX_LENGTH:
        raise _error(f"A command is at most {COMMAND_MAX_LENGTH} characters long.")
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise _error(f"The command cannot be read: {exc} (check its quotes).") from None
    if not argv:
        raise _error("Enter the command that the job runs.")
    return argv


def display(argv: list[str]) -> str:
    """The argv as a command line that `parse` reads back into the same argv."""
    return " ".join(part if _PLAIN.match(part) else shlex.quote(part) for part in argv)


@dataclass(frozen=True)
class _Folder:
    label: str
    placeholder: str
    path: Path


def _folders() -> list[_Folder]:
    return [
        _Folder("the jobs directory (SM_JOBS_DIR)", JOBS_DIR, Path(settings.SM_JOBS_DIR)),
        _Folder("the sample jobs", SAMPLE_JOBS_DIR, Path(settings.SM_SAMPLE_JOBS_DIR)),
    ]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _resolve(part: str, *, what: str) -> None:
    """Refuse `part` unless it names a file of an allowed folder (see the module docstring)."""
    expanded = Path(os.path.normpath(expand(part)))
    if not expanded.is_absolute():
        raise _error(
            f"{part} is not a path: give the {what} as {JOBS_DIR}/NAME "
            f"(SM_JOBS_DIR) or {SAMPLE_JOBS_DIR}/NAME."
        )
    home = next((f for f in _folders() if _inside(expanded, f.path)), None)
    if home is None:
        raise _error(
            f"{part} is outside the folders that jobs may run from: put it in {JOBS_DIR} "
            f"(SM_JOBS_DIR, {settings.SM_JOBS_DIR}) or use a sample job ({SAMPLE_JOBS_DIR})."
        )
    if home.placeholder == JOBS_DIR and (problem := sandbox.jobs_dir_problem()):
        raise _error(f"No job may run from the jobs directory: {problem}")
    if not os.path.lexists(expanded):
        raise _error(f"{part} does not exist in {home.label}.")
    real = Path(os.path.realpath(expanded))
    if not _inside(real, Path(os.path.realpath(home.path))):
        raise _error(
            f"{part} is a symbolic link that leads out of {home.label} (to {real}); "
            "jobs may only run files that live there."
        )
    info = real.stat()
    if not stat.S_ISREG(info.st_mode):
        raise _error(f"{part} is not a file.")
    if what == "program" and not (info.st_mode & 0o111 and os.access(real, os.X_OK)):
        raise _error(
            f"{part} is not executable: make it so (chmod +x), or run a Python script as "
            f"{PYTHON} {part}."
        )


def check(argv: list[str]) -> list[str]:
    """The argv a person asked for, if the policy allows it (a bare program name becomes
    `{jobs_dir}/NAME`); else a ValidationError on `command`."""
    if not argv or not all(isinstance(part, str) and part for part in argv):
        raise _error("The command is a non-empty list of non-empty arguments.")
    if any("\x00" in part for part in argv):
        raise _error("The command cannot contain NUL characters.")
    argv = list(argv)
    if argv[0] == PYTHON:
        if len(argv) < 2 or argv[1].startswith("-"):
            raise _error(
                f"{PYTHON} runs a script of the jobs directory or of the sample jobs, e.g. "
                f"{PYTHON} {SAMPLE_JOBS_DIR}/token_provider.py; interpreter options are not allowed."
            )
        _resolve(argv[1], what="script")
        return argv
    if "/" not in argv[0] and "{" not in argv[0]:
        argv[0] = f"{JOBS_DIR}/{argv[0]}"
    _resolve(argv[0], what="program")
    return argv


def available_programs() -> list[str]:
    """Commands that the policy allows as they stand, to suggest in the job form."""
    found: list[str] = []
    sample = Path(settings.SM_SAMPLE_JOBS_DIR)
    for script in sorted(sample.glob("*_provider.py")):
        found.append(f"{PYTHON} {SAMPLE_JOBS_DIR}/{script.name}")
    jobs = Path(settings.SM_JOBS_DIR)
    if jobs.is_dir():
        for entry in sorted(jobs.iterdir()):
            command = [f"{JOBS_DIR}/{entry.name}"]
            if entry.suffix == ".py" and not os.access(entry, os.X_OK):
                command = [PYTHON, *command]
            try:
                check(command)
            except ValidationError:
                continue
            found.append(display(command))
    return found
