"""The Code Engine provider interface: what the secrets code needs from a job platform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from console.identity import Actor


@dataclass(frozen=True)
class JobInfo:
    project_id: str
    project_name: str
    region: str
    name: str
    env: dict[str, str]


class CodeEngineProvider(Protocol):
    def list_regions(self) -> list[str]: ...

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


def get_code_engine() -> CodeEngineProvider:
    from engines_app.providers.embedded.code_engine.provider import EmbeddedCodeEngine

    return EmbeddedCodeEngine()
