"""Console pages of the embedded Code Engine: projects, a job's configuration tab, runs and logs.

Every page needs the Manager role on the instance (a job runs commands on this host). Forms are
plain POSTs that redirect on success and come back with 422 and their errors otherwise; with
htmx, only the form is swapped. The jobs' own forms live in views_jobs.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from console.errors import ServiceError
from console.htmx import finish, render_page_or_partial
from console.http import AuthedRequest
from console.identity import actor_for_user
from engines_app.providers.access import require_code_engine_manager
from engines_app.providers.code_engine import inspect_job, job_users, task_page_urls
from engines_app.providers.embedded.code_engine import commands, definitions, services
from engines_app.providers.embedded.code_engine.forms import ProjectForm
from engines_app.providers.embedded.code_engine.models import Job, JobRun, Project
from engines_app.providers.embedded.code_engine.sandbox import sandbox_status

MASK = "••••••"


@require_GET
def projects(request: AuthedRequest) -> HttpResponse:
    require_code_engine_manager(request.user)
    rows = Project.objects.prefetch_related("jobs").order_by("region", "name")
    return render(
        request, "cloud/ce_projects.html", {"projects": rows, "sandbox": sandbox_status()}
    )


@require_http_methods(["GET", "POST"])
def project_create(request: AuthedRequest) -> HttpResponse:
    require_code_engine_manager(request.user)
    form = ProjectForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                project = services.project_create(
                    actor=actor_for_user(request.user), **form.cleaned_data
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Project {project.name} created in {project.region}.")
                return finish(request, reverse("cloud:ce-project", args=[project.pk]))
        status = 422
    return render_page_or_partial(
        request, "cloud/ce_project_form.html", "project-form", {"form": form}, status=status
    )


@require_GET
def project_detail(request: AuthedRequest, project_id: str) -> HttpResponse:
    require_code_engine_manager(request.user)
    project = get_object_or_404(Project, pk=project_id)
    context = {
        "project": project,
        "jobs": project.jobs.order_by("name"),
        "sandbox": sandbox_status(),
    }
    return render(request, "cloud/ce_project.html", context)


@require_http_methods(["GET", "POST"])
def project_delete(request: AuthedRequest, project_id: str) -> HttpResponse:
    require_code_engine_manager(request.user)
    project = get_object_or_404(Project, pk=project_id)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            definitions.project_delete(actor=actor_for_user(request.user), project_id=project.pk)
        except ServiceError as exc:
            error, status = exc.message, 422
        else:
            messages.success(request, f"Project {project.name} deleted.")
            return finish(request, reverse("cloud:ce-projects"))
    context = {"project": project, "jobs": project.jobs.order_by("name"), "error": error}
    return render_page_or_partial(
        request, "cloud/ce_project_delete.html", "project-delete", context, status=status
    )


def shown_env(job: Job) -> list[tuple[str, str, bool]]:
    """(name, value, secret) of every variable; a secret one's value is sealed and never opened
    for a page."""
    return [
        (name, MASK if secret else str(job.env[name]), secret)
        for name, secret in services.job_env_names(job)
    ]


def job_context(job: Job, **extra: Any) -> dict[str, Any]:
    """What every tab of a job's page shows in its header."""
    return {
        "job": job,
        "command_line": commands.display(job.command),
        "users": job_users(project_id=job.project_id, job_name=job.name),
        "sandbox": sandbox_status(),
        **extra,
    }


@require_GET
def job_detail(request: AuthedRequest, project_id: str, job_name: str) -> HttpResponse:
    """The job's Configuration tab: its command, the schema it declares, its runs."""
    require_code_engine_manager(request.user)
    job = get_object_or_404(
        Job.objects.select_related("project"), project_id=project_id, name=job_name
    )
    schema, problems = inspect_job({k: str(v) for k, v in job.env.items()})
    context = job_context(
        job,
        tab="configuration",
        env=shown_env(job),
        schema=schema,
        problems=problems,
        run_rows=_with_task_urls(list(job.runs.order_by("-created_at")[:20])),
    )
    return render(request, "cloud/ce_job.html", context)


def _with_task_urls(runs: list[JobRun]) -> list[tuple[JobRun, str]]:
    """Each run with the page of the secret task it served (a run is named after its task)."""
    urls = task_page_urls([run.name for run in runs])
    return [(run, urls.get(run.name, "")) for run in runs]


@require_GET
def runs(request: AuthedRequest) -> HttpResponse:
    require_code_engine_manager(request.user)
    rows = list(JobRun.objects.select_related("project", "job").order_by("-created_at")[:200])
    context = {"run_rows": _with_task_urls(rows), "sandbox": sandbox_status()}
    return render(request, "cloud/ce_runs.html", context)


@require_GET
def run_detail(request: AuthedRequest, run_id: int) -> HttpResponse:
    require_code_engine_manager(request.user)
    run = get_object_or_404(JobRun.objects.select_related("project", "job"), pk=run_id)
    context = {
        "run": run,
        "task_url": task_page_urls([run.name]).get(run.name, ""),
        "sandbox": sandbox_status(),
    }
    return render(request, "cloud/ce_run.html", context)
