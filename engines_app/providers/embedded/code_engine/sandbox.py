"""The job sandbox: bubblewrap (`bwrap`) around every job run, and its resource limits.

Jobs are untrusted code. Inside the sandbox a job sees a read-only system (/usr and a few files
of /etc), the Python it runs with, the sample jobs' folder and the operator's jobs directory
(SM_JOBS_DIR), its own home directory and the embedded external services' folder; a fresh /proc
of its own PID namespace, a private /tmp, and the host network (it calls back to the console on
loopback). It does not see the data directory (database, root key, SECRET_KEY file, other runs'
logs), the project tree, or any other process. When the server runs as root, the job runs as
SM_JOB_UID (nobody) with no capabilities, so the limit on processes applies to it too.

SM_JOB_SANDBOX chooses what happens where bubblewrap cannot run: `auto` (the default) runs jobs
without a sandbox and says so on the Code Engine pages, in `manage.py check` and in the log;
`required` refuses to run jobs at all; `off` never sandboxes (for debugging a job).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

MODES = ("auto", "required", "off")
# Files and folders of /etc that programs need (name resolution, TLS roots, users, the dynamic
# linker); never the whole of /etc, which holds the host's own secrets.
ETC_PATHS = (
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/group",
    "/etc/host.conf",
    "/etc/hosts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/resolv.conf",
    "/etc/ssl",
)
TOP_LEVEL_SYSTEM = ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")


@dataclass(frozen=True)
class SandboxStatus:
    """Whether job runs are sandboxed on this host, and why not when they are not."""

    mode: str
    available: bool
    detail: str  # the bubblewrap version, or why it cannot run

    @property
    def sandboxed(self) -> bool:
        return self.mode != "off" and self.available

    @property
    def refuses_jobs(self) -> bool:
        return self.mode == "required" and not self.available

    def describe(self) -> str:
        if self.sandboxed:
            return f"Job runs are sandboxed with {self.detail}."
        if self.mode == "off":
            return (
                "Job runs are NOT sandboxed (SM_JOB_SANDBOX=off): every job can read the data "
                "directory, including the database and the root key. Use this only to debug a job."
            )
        if self.refuses_jobs:
            return (
                f"No job can run: SM_JOB_SANDBOX=required, and the sandbox is unavailable "
                f"({self.detail}). Install Debian's bubblewrap (apt-get install bubblewrap)."
            )
        return (
            f"Job runs are NOT sandboxed, because bubblewrap is unavailable ({self.detail}): every "
            "job can read the data directory, including the database and the root key. Install "
            "Debian's bubblewrap (apt-get install bubblewrap), or set SM_JOB_SANDBOX=required to "
            "refuse to run jobs without it."
        )


def _bwrap_path() -> str | None:
    configured = str(settings.SM_JOB_BWRAP)
    if os.sep in configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which(configured)


@functools.cache
def _probe(bwrap: str | None, as_root: bool) -> tuple[bool, str]:
    if bwrap is None:
        return False, f"{settings.SM_JOB_BWRAP} was not found"
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid"]
    if not as_root:
        argv.append("--unshare-user")
    try:
        # A session of its own: bwrap's helper process can outlive it as a zombie until init
        # reaps it, and it must not count as a member of the caller's process group.
        done = subprocess.run(
            [*argv, "true"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            start_new_session=True,
        )
        version = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{bwrap} could not be started: {exc}"
    if done.returncode != 0:
        reason = (done.stderr.strip() or f"exit code {done.returncode}").splitlines()[-1]
        return False, f"{bwrap} does not work here: {reason}"
    return True, version.stdout.strip() or "bubblewrap"


def sandbox_status() -> SandboxStatus:
    mode = str(settings.SM_JOB_SANDBOX)
    if mode == "off":
        return SandboxStatus(mode=mode, available=False, detail="turned off")
    available, detail = _probe(_bwrap_path(), os.geteuid() == 0)
    return SandboxStatus(mode=mode, available=available, detail=detail)


_warned: set[tuple[str, str]] = set()


def warn_if_unsandboxed(status: SandboxStatus) -> None:
    """Log a missing sandbox once per process and cause: at start-up, and when a job is started
    after the configuration changed."""
    if not status.sandboxed and (status.mode, status.detail) not in _warned:
        _warned.add((status.mode, status.detail))
        logger.warning(status.describe())


# ---------------------------------------------------------------------------------------------
# What the supervisor needs to start one run (decided by the process that starts the run)


@dataclass(frozen=True)
class RunPlan:
    sandboxed: bool
    bwrap: str
    job_uid: int | None  # drop to this uid (the server runs as root), else None
    cpu_seconds: int
    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    ro_paths: tuple[str, ...]
    rw_paths: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunPlan:
        return cls(
            **{
                **data,
                "ro_paths": tuple(data.get("ro_paths", ())),
                "rw_paths": tuple(data.get("rw_paths", ())),
            }
        )


def _python_paths() -> list[str]:
    """What the console's own Python needs, so that `{python}` works inside the sandbox."""
    paths = {sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent)}
    return sorted(p for p in paths if not p.startswith("/usr/"))


def jobs_dir_problem() -> str:
    """Why SM_JOBS_DIR cannot be shown to jobs, or "": it must not hold what they may not see."""
    jobs = Path(os.path.realpath(settings.SM_JOBS_DIR))
    hidden = {
        "the data directory": Path(settings.DATA_DIR),
        "the project tree": Path(settings.BASE_DIR),
        "the job runs' folder": Path(settings.JOB_LOG_DIR),
    }
    for label, path in hidden.items():
        real = Path(os.path.realpath(path))
        if real == jobs or jobs in real.parents:
            return f"SM_JOBS_DIR ({jobs}) contains {label}, which jobs must never see."
        if label == "the job runs' folder" and real in jobs.parents:
            return f"SM_JOBS_DIR ({jobs}) lies inside {label}, which holds other runs' logs."
    return ""


def _jobs_dir() -> tuple[str, ...]:
    return () if jobs_dir_problem() else (str(settings.SM_JOBS_DIR),)


def run_plan(status: SandboxStatus) -> RunPlan:
    return RunPlan(
        sandboxed=status.sandboxed,
        bwrap=_bwrap_path() or "",
        job_uid=int(settings.SM_JOB_UID) if os.geteuid() == 0 else None,
        cpu_seconds=int(settings.SM_JOB_CPU_SECONDS),
        memory_bytes=int(settings.SM_JOB_MEMORY_MB) * 1024 * 1024,
        max_processes=int(settings.SM_JOB_MAX_PROCESSES),
        max_file_bytes=int(settings.SM_JOB_MAX_FILE_MB) * 1024 * 1024,
        ro_paths=(*_python_paths(), str(settings.SM_SAMPLE_JOBS_DIR), *_jobs_dir()),
        rw_paths=(str(settings.SM_EXTERNAL_DIR),),
    )


# ---------------------------------------------------------------------------------------------
# The command line and the limits


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in TOP_LEVEL_SYSTEM:
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]  # else bwrap makes it 0700: unreadable to the job
    for etc in ETC_PATHS:
        if os.path.lexists(etc):
            args += ["--ro-bind-try", etc, etc]
    return args


def _parent_dirs(paths: list[str]) -> list[str]:
    """`--dir` for each missing ancestor of the bind targets, traversable by the job's uid.

    bwrap would create them itself, but with mode 0700 and owned by root, which a job running
    as an unprivileged uid could not pass through.
    """
    made = {"/", "/tmp", "/var/tmp", "/dev", "/proc", "/usr", "/etc", *TOP_LEVEL_SYSTEM}
    args: list[str] = []
    for path in paths:
        parents = list(Path(path).parents)[::-1]  # from / downwards, without the path itself
        for parent in map(str, parents):
            if parent in made or any(parent.startswith(m + "/") for m in ("/usr", "/proc", "/dev")):
                continue
            made.add(parent)
            args += ["--perms", "0755", "--dir", parent]
    return args


def sandboxed_argv(plan: RunPlan, *, argv: list[str], home: Path) -> list[str]:
    """The bwrap command line that runs `argv` in `home`.

    The job's environment is not on it: a command line is world-readable in /proc/<pid>/cmdline,
    and the environment holds the job's secrets (SM_ACCESS_APIKEY, sealed variables). bwrap is
    started with exactly the job's environment instead (readable only by its owner), and passes
    it on unchanged.
    """
    args = [plan.bwrap, "--die-with-parent", "--new-session"]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if plan.job_uid is None:
        # Not root: a user namespace is what lets bwrap build the sandbox at all.
        args += ["--unshare-user", "--cap-drop", "ALL"]
    # Fresh /dev, /proc and /tmp first: later binds may live under /tmp (a test's data
    # directory, say), and a tmpfs mounted after them would hide them.
    args += ["--dev", "/dev", "--proc", "/proc"]
    args += ["--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/var/tmp"]
    args += _system_binds()
    ro = [p for p in plan.ro_paths if os.path.exists(p)]
    rw = [p for p in plan.rw_paths if os.path.exists(p)]
    args += _parent_dirs([*ro, *rw, str(home)])
    for path in ro:
        args += ["--ro-bind", path, path]
    for path in rw:
        args += ["--bind", path, path]
    args += ["--bind", str(home), str(home), "--chdir", str(home)]
    args += ["--hostname", "sm-job", "--"]
    if plan.job_uid is not None:
        # As root, bwrap keeps its capabilities to set up the mounts; setpriv then drops to the
        # job's uid with no capabilities and no way to regain privileges.
        uid = str(plan.job_uid)
        args += [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]
    return args + argv


def limited_argv(plan: RunPlan, command: list[str]) -> list[str]:
    """`command` under the resource limits, applied by util-linux's prlimit, which sets them on
    itself and then executes the command (bwrap, which is tiny, and the job get them).

    Not a preexec_fn: runs are started from threads, where Python code between fork and exec is
    unsafe, and without one the child is spawned without copying the parent's memory.
    """
    prlimit = shutil.which("prlimit", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if prlimit is None:
        raise FileNotFoundError(2, "prlimit (util-linux) is needed to limit job runs", "prlimit")
    limits = {
        "cpu": plan.cpu_seconds,
        "as": plan.memory_bytes,
        "nproc": plan.max_processes,
        "fsize": plan.max_file_bytes,
        "core": 0,
    }
    return [
        prlimit,
        *(f"--{name}={value}:{value}" for name, value in limits.items()),
        "--",
        *command,
    ]


def give_external_dir_to(plan: RunPlan) -> None:
    """The embedded external services' folder belongs to the jobs' uid, which writes to it."""
    if plan.job_uid is None:
        return
    for path in plan.rw_paths:
        root = Path(path)
        if not root.is_dir():
            continue
        for entry in [root, *root.rglob("*")]:
            # A running job may remove a file meanwhile (SQLite's journal, say).
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_uid != plan.job_uid:
                    os.chown(entry, plan.job_uid, plan.job_uid)


def prepare_home(plan: RunPlan, home: Path) -> None:
    """The job's own directory: private to it (and to the supervisor, which owns the logs)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if plan.sandboxed and plan.job_uid is not None:
        os.chown(home, plan.job_uid, plan.job_uid)
