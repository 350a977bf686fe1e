"""The Code Engine provider interface: what the secrets code needs from a job platform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from django.dispatch import Signal

from console.identity import Actor
from engines_app.providers.registry import load_provider

# Sent when a job run has ended, with `outcome=RunOutcome(...)`. The secrets app listens (a task
# that the job never reported on fails there); the provider never imports the secrets code.
job_run_finished = Signal()


@dataclass(frozen=True)
class RunOutcome:
    run_name: str
    project_id: str
    status: str
    exit_code: int | None
    timed_out: bool
    timeout_seconds: int
    # Whether the run (and its logs) is kept after it ended, and the job's setting that says so.
    logs_kept: bool
    retention_setting: str


@dataclass(frozen=True)
class JobUser:
    """Something that uses a job (an engine configuration), for the job's page."""

    label: str
    url: str = ""


# Higher layers register who uses a job (engines_app: its configurations); the job's page asks.
_job_user_finders: list[Callable[[str, str], list[JobUser]]] = []


def register_job_user_finder(finder: Callable[[str, str], list[JobUser]]) -> None:
    if finder not in _job_user_finders:
        _job_user_finders.append(finder)


def job_users(*, project_id: str, job_name: str) -> list[JobUser]:
    return [user for find in _job_user_finders for user in find(project_id, job_name)]


# What a job's SMIN_/SMOUT_ declarations amount to (the schema a configuration would derive,
# or the problems that stop it): engines_app derives schemas and registers the inspector.
JobInspector = Callable[[dict[str, str]], "tuple[dict[str, Any] | None, list[str]]"]
_job_inspectors: list[JobInspector] = []


def register_job_inspector(inspector: JobInspector) -> None:
    _job_inspectors[:] = [inspector]


def inspect_job(env: dict[str, str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The schema, or the problems; a problem about one variable starts with "NAME: "."""
    return _job_inspectors[0](env) if _job_inspectors else (None, [])


@dataclass(frozen=True)
class JobInspection:
    """What `inspect_job` says, with each problem attributed to the variable it is about."""

    schema: dict[str, Any] | None
    by_variable: dict[str, list[str]]  # variable name -> its problems
    general: list[str]  # problems of the job as a whole (e.g. no required output)

    @property
    def problems(self) -> list[str]:
        return [*(p for ps in self.by_variable.values() for p in ps), *self.general]


def inspect_job_variables(env: dict[str, str]) -> JobInspection:
    """`inspect_job`, for forms that show each problem next to its variable."""
    schema, problems = inspect_job(env)
    by_variable: dict[str, list[str]] = {}
    general: list[str] = []
    names = sorted(env, key=len, reverse=True)  # SMIN_A_B before SMIN_A
    for problem in problems:
        name = next((n for n in names if problem.startswith(f"{n}: ")), None)
        if name is None:
            general.append(problem)
        else:
            by_variable.setdefault(name, []).append(problem)
    return JobInspection(schema=schema, by_variable=by_variable, general=general)


# Where the console shows the secret task that a job run (named after it) serves: secrets_app
# registers the finder; the run pages ask, never importing it.
TaskPageFinder = Callable[[list[str]], dict[str, str]]
_task_page_finders: list[TaskPageFinder] = []


def register_task_page_finder(finder: TaskPageFinder) -> None:
    _task_page_finders[:] = [finder]


def task_page_urls(run_names: list[str]) -> dict[str, str]:
    """Run name -> URL of the page that shows its secret task, for the tasks that exist."""
    return _task_page_finders[0](run_names) if _task_page_finders and run_names else {}


@dataclass(frozen=True)
class JobInfo:
    project_id: str
    project_name: str
    region: str
    name: str
    env: dict[str, str]


class CodeEngineProvider(Protocol):
    def list_regions(self) -> list[str]: ...

    def list_jobs(self, *, region: str | None = None) -> list[JobInfo]:
        """Every job (of one region), by region, project name and job name."""
        ...

    def get_job(self, *, project_id: str, job_name: str, region: str | None = None) -> JobInfo:
        """The job, or NotFoundError naming what is missing."""
        ...

    def set_job_env(
        self, *, actor: Actor, project_id: str, job_name: str, env: dict[str, str]
    ) -> None:
        """Add or replace environment variables on the job definition."""
        ...

    def start_job_run(
        self,
        *,
        project_id: str,
        job_name: str,
        run_name: str,
        env: dict[str, str],
        timeout_seconds: int,
    ) -> None:
        """Start a run named `run_name` with extra env; returns once it is submitted."""
        ...

    def stop_job_run(self, *, project_id: str, run_name: str) -> bool:
        """Stop a run if it is still going; True if something was stopped."""
        ...

    def run_page_urls(self, run_names: list[str]) -> dict[str, str]:
        """Where the console shows each of these runs (with its logs), for the runs that exist."""
        ...

    def seed_demo(self, *, actor: Actor) -> Any:
        """Demo data: a project with the sample provider jobs, authorized for Secrets Manager.
        Idempotent. Returns the project (its `pk` is the project id)."""
        ...

    def record_run_report(self, *, project_id: str, run_name: str) -> None:
        """Note that the run's job reported its result (so a lost supervisor is not a timeout)."""
        ...

    def sandbox_summary(self) -> str:
        """One sentence on how job runs are isolated on this platform, for the console."""
        ...


def get_code_engine() -> CodeEngineProvider:
    """The implementation named in settings.SM_PROVIDERS (the embedded cloud by default)."""
    return cast(CodeEngineProvider, load_provider("code_engine"))
