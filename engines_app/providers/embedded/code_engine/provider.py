from __future__ import annotations

from console.identity import Actor
from engines_app.providers.code_engine import JobInfo
from engines_app.providers.embedded.code_engine import services
from engines_app.providers.embedded.code_engine.sandbox import sandbox_status
from engines_app.regions import REGIONS


class EmbeddedCodeEngine:
    """CodeEngineProvider backed by the console's own database and local subprocesses."""

    def list_regions(self) -> list[str]:
        return list(REGIONS)

    def get_job(self, *, project_id: str, job_name: str, region: str | None = None) -> JobInfo:
        job = services.job_get(project_id=project_id, job_name=job_name, region=region)
        return JobInfo(
            project_id=job.project_id,
            project_name=job.project.name,
            region=job.project.region,
            name=job.name,
            env={k: str(v) for k, v in job.env.items()},
        )

    def set_job_env(
        self, *, actor: Actor, project_id: str, job_name: str, env: dict[str, str]
    ) -> None:
        services.job_set_env(actor=actor, project_id=project_id, job_name=job_name, env=env)

    def start_job_run(
        self,
        *,
        project_id: str,
        job_name: str,
        run_name: str,
        env: dict[str, str],
        timeout_seconds: int,
    ) -> None:
        services.job_run_start(
            project_id=project_id,
            job_name=job_name,
            run_name=run_name,
            env=env,
            timeout_seconds=timeout_seconds,
        )

    def stop_job_run(self, *, project_id: str, run_name: str) -> bool:
        return services.job_run_stop(project_id=project_id, run_name=run_name)

    def record_run_report(self, *, project_id: str, run_name: str) -> None:
        services.job_run_record_report(project_id=project_id, run_name=run_name)

    def sandbox_summary(self) -> str:
        return sandbox_status().describe()
