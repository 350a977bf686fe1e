"""Console pages for the embedded Code Engine: projects, jobs with their schema, runs with logs."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from engines_app.providers.access import require_code_engine_manager
from engines_app.providers.code_engine import inspect_job, job_users
from engines_app.providers.embedded.code_engine.models import Job, JobRun, Project
from engines_app.providers.embedded.code_engine.sandbox import sandbox_status
from engines_app.providers.embedded.code_engine.services import job_env_names


@require_GET
def projects(request: AuthedRequest) -> HttpResponse:
    require_code_engine_manager(request.user)
    rows = Project.objects.prefetch_related("jobs").order_by("region", "name")
    return render(
        request, "cloud/ce_projects.html", {"projects": rows, "sandbox": sandbox_status()}
    )


def _shown_env(job: Job) -> list[tuple[str, str]]:
    """Names and plain values; a secret variable's value is sealed and never opened for a page."""
    return [(k, "••••••" if secret else str(job.env[k])) for k, secret in job_env_names(job)]


@require_GET
def job_detail(request: AuthedRequest, project_id: str, job_name: str) -> HttpResponse:
    require_code_engine_manager(request.user)
    job = get_object_or_404(
        Job.objects.select_related("project"), project_id=project_id, name=job_name
    )
    schema, problems = inspect_job({k: str(v) for k, v in job.env.items()})
    context = {
        "job": job,
        "env": _shown_env(job),
        "schema": schema,
        "problems": problems,
        "users": job_users(project_id=project_id, job_name=job_name),
        "runs": job.runs.order_by("-created_at")[:20],
        "sandbox": sandbox_status(),
    }
    return render(request, "cloud/ce_job.html", context)


@require_GET
def runs(request: AuthedRequest) -> HttpResponse:
    require_code_engine_manager(request.user)
    rows = JobRun.objects.select_related("project", "job").order_by("-created_at")[:200]
    return render(request, "cloud/ce_runs.html", {"runs": rows, "sandbox": sandbox_status()})


@require_GET
def run_detail(request: AuthedRequest, run_id: int) -> HttpResponse:
    require_code_engine_manager(request.user)
    run = get_object_or_404(JobRun.objects.select_related("project", "job"), pk=run_id)
    return render(request, "cloud/ce_run.html", {"run": run, "sandbox": sandbox_status()})
