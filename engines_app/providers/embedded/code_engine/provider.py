from __future__ import annotations

from django.urls import reverse

from console.identity import Actor
from engines_app.providers.code_engine import JobInfo
from engines_app.providers.embedded import seed
from engines_app.providers.embedded.code_engine import services
from engines_app.providers.embedded.code_engine.models import Job, JobRun, Project
from engines_app.providers.embedded.code_engine.sandbox import sandbox_status
from engines_app.regions import REGIONS


class EmbeddedCodeEngine:
    """CodeEngineProvider backed by the console's own database and local subprocesses."""

    def list_regions(self) -> list[str]:
        return list(REGIONS)

    @staticmethod
    def _info(job: Job) -> JobInfo:
        return JobInfo(
            project_id=job.project_id,
            project_name=job.project.name,
            region=job.project.region,
            name=job.name,
            env={k: str(v) for k, v in job.env.items()},  # plain variables only, never secret ones
        )

    def list_jobs(self, *, region: str | None = None) -> list[JobInfo]:
        jobs = Job.objects.select_related("project").order_by(
            "project__region", "project__name", "name"
        )
        if region:
            jobs = jobs.filter(project__region=region)
        return [self._info(job) for job in jobs]

    def get_job(self, *, project_id: str, job_name: str, region: str | None = None) -> JobInfo:
        return self._info(services.job_get(project_id=project_id, job_name=job_name, region=region))

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

    def run_page_urls(self, run_names: list[str]) -> dict[str, str]:
        runs = JobRun.objects.filter(name__in=run_names).values_list("name", "pk")
        return {name: reverse("cloud:ce-run", args=[pk]) for name, pk in runs}

    def seed_demo(self, *, actor: Actor) -> Project:
        return seed.seed_code_engine(actor=actor)

    def record_run_report(self, *, project_id: str, run_name: str) -> None:
        services.job_run_record_report(project_id=project_id, run_name=run_name)

    def sandbox_summary(self) -> str:
        return sandbox_status().describe()
