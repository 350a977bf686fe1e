"""Console pages that change a job: create, edit its command, its Environment variables tab
(edit, import a job_config.json, Deploy), delete; and the live schema preview.

The variables form has four buttons: Deploy (or Create) writes; Import reads a job_config.json
into the rows for review; Add rows gives more blank rows; Preview schema (for pages without
JavaScript; with it, htmx posts the rows to `schema_preview` on every change) shows the schema
that a configuration would derive. Only Deploy and Create write anything. A secret value is
never sent back to the page: a row that held a newly typed one asks for it again.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from console.errors import ServiceError
from console.htmx import finish, render_page_or_partial
from console.http import AuthedRequest
from console.identity import actor_for_user
from engines_app.providers.access import require_code_engine_manager
from engines_app.providers.code_engine import inspect_job_variables
from engines_app.providers.embedded.code_engine import commands, definitions, services
from engines_app.providers.embedded.code_engine import job_config as job_config_file
from engines_app.providers.embedded.code_engine.forms import (
    BLANK_ROWS,
    MAX_ROWS,
    BaseEnvRowFormSet,
    CommandForm,
    JobConfigForm,
    JobForm,
    env_formset,
    posted_row_count,
)
from engines_app.providers.embedded.code_engine.models import Job, Project
from engines_app.providers.embedded.code_engine.sandbox import sandbox_status
from engines_app.providers.embedded.code_engine.views import job_context


def _job(project_id: str, job_name: str) -> Job:
    return get_object_or_404(
        Job.objects.select_related("project"), project_id=project_id, name=job_name
    )


# ---------------------------------------------------------------------------------------------
# The rows of variables


def _preview(rows: BaseEnvRowFormSet) -> dict[str, Any]:
    """The schema the rows declare. Secret values are blanked first: nothing echoes them."""
    env: dict[str, str] = {}
    secret = 0
    for form in rows.forms:
        name = form.current_name
        if not name or form.marked_removed:
            continue
        secret += form.is_secret
        env[name] = "" if form.is_secret else str(form.shown_value)
    inspection = inspect_job_variables(env)
    return {
        "schema": inspection.schema,
        "problems": inspection.problems,
        "count": len(env),
        "secret_count": secret,
    }


def _more_rows(data: QueryDict) -> QueryDict:
    more = data.copy()
    total = posted_row_count(more)
    more["env-TOTAL_FORMS"] = str(min(total + BLANK_ROWS, MAX_ROWS))
    return more


def _imported_rows(data: QueryDict, declared: dict[str, str]) -> QueryDict:
    """The posted rows with a job_config.json's declarations in place of the SMIN_/SMOUT_ ones:
    a declaration the file lacks is marked for removal, the file's are set or added."""
    rows = data.copy()
    total = posted_row_count(rows)
    by_name: dict[str, int] = {}
    for index in range(total):
        name = str(rows.get(f"env-{index}-name", "")).strip()
        if not name:
            continue
        by_name[name] = index
        if name.startswith(definitions.DECLARATION_PREFIXES) and name not in declared:
            rows[f"env-{index}-remove"] = "on"
    for name, value in declared.items():
        index = by_name.get(name, total)
        if index == total:
            total += 1
        rows[f"env-{index}-name"] = name
        rows[f"env-{index}-value"] = value
        rows.pop(f"env-{index}-remove", None)
    rows["env-TOTAL_FORMS"] = str(min(total + BLANK_ROWS, MAX_ROWS))
    return rows


def _show_errors(
    exc: ValidationError, rows: BaseEnvRowFormSet, form: Any, *, fields: tuple[str, ...]
) -> None:
    """A service's errors on the form's fields and on the row of each variable they name."""
    if isinstance(exc, definitions.DefinitionError):
        by_row = {f.current_name: f for f in rows.forms if f.current_name}
        for name, problems in exc.variables.items():
            if name in by_row:
                by_row[name].add_error(None, problems)
            else:
                rows.extra_errors.extend(problems)
        rows.extra_errors.extend(exc.env_general)
        field_errors = {k: v for k, v in exc.message_dict.items() if k != "env"}
    else:
        field_errors = dict(exc.message_dict) if hasattr(exc, "error_dict") else {}
        if not field_errors:
            form.add_error(None, exc.messages)
    for key, problems in field_errors.items():
        form.add_error(key if key in fields else None, problems)


def _rows_context(rows: BaseEnvRowFormSet, **extra: Any) -> dict[str, Any]:
    return {
        "rows": rows,
        "preview": _preview(rows),
        "secret_dropped": any(f.secret_entered for f in rows.forms),
        **extra,
    }


def _bound_rows(data: QueryDict, existing: frozenset[str]) -> BaseEnvRowFormSet:
    return env_formset(data=data, existing=existing)


# ---------------------------------------------------------------------------------------------
# Create


@require_http_methods(["GET", "POST"])
def job_create(request: AuthedRequest, project_id: str) -> HttpResponse:
    require_code_engine_manager(request.user)
    project = get_object_or_404(Project, pk=project_id)
    status = 200
    notice = ""
    if request.method != "POST":
        form = JobForm()
        rows = env_formset()
    else:
        action = request.POST.get("action", "save")
        form = JobForm(request.POST, request.FILES)
        rows = _bound_rows(request.POST, frozenset())
        if action not in {"save", "import"}:
            # More rows, or the schema preview: the form is shown again as it was, unjudged.
            form = JobForm(initial={k: request.POST.get(k, "") for k in ("name", "command")})
        if action == "more":
            rows = _bound_rows(_more_rows(request.POST), frozenset())
        elif action == "import":
            rows, notice, status = _import(request, rows, form, frozenset())
        elif action == "save":
            valid = form.is_valid() & rows.is_valid()
            if valid:
                try:
                    job = definitions.job_define(
                        actor=actor_for_user(request.user),
                        project_id=project.pk,
                        name=form.cleaned_data["name"],
                        command=form.cleaned_data["command"],
                        env=rows.env(),
                        job_config=form.cleaned_data["job_config"],
                    )
                except ValidationError as exc:
                    _show_errors(exc, rows, form, fields=("name", "command", "job_config"))
                except ServiceError as exc:
                    form.add_error(None, exc.message)
                else:
                    messages.success(
                        request,
                        f"Job {job.name} created. Its variables are on the Environment variables tab.",
                    )
                    return finish(request, reverse("cloud:ce-job", args=[project.pk, job.name]))
            status = 422
    context = _rows_context(
        rows,
        project=project,
        form=form,
        notice=notice,
        suggestions=commands.available_programs(),
        sandbox=sandbox_status(),
    )
    return render_page_or_partial(
        request, "cloud/ce_job_form.html", "job-form", context, status=status
    )


def _import(
    request: AuthedRequest, rows: BaseEnvRowFormSet, form: JobConfigForm, existing: frozenset[str]
) -> tuple[BaseEnvRowFormSet, str, int]:
    """Read the chosen job_config.json into the rows, for review (nothing is written).

    Only the file is checked here: the rest of the form is checked when it is saved.
    """
    form.is_valid()
    for name in [k for k in form.errors if k != "job_config"]:
        del form.errors[name]
    if form.errors:
        return rows, "", 422
    data = form.cleaned_data.get("job_config")
    if not data:
        form.add_error("job_config", "Choose a job_config.json file to import.")
        return rows, "", 422
    try:
        declared = job_config_file.declarations(data)
    except ValidationError as exc:
        form.add_error("job_config", exc.message_dict[job_config_file.FIELD])
        return rows, "", 422
    notice = (
        f"Read {len(declared)} declarations from job_config.json into the variables below. "
        "Nothing is saved yet: review them and the schema, then click "
        f"{'Deploy' if existing else 'Create'}."
    )
    return _bound_rows(_imported_rows(request.POST, declared), existing), notice, 200


# ---------------------------------------------------------------------------------------------
# The Environment variables tab


def _job_rows(job: Job) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"name": name, "value": "" if secret else str(job.env[name])}
        for name, secret in services.job_env_names(job)
    ]
    return rows + [{} for _ in range(BLANK_ROWS)]


@require_http_methods(["GET", "POST"])
def job_env(request: AuthedRequest, project_id: str, job_name: str) -> HttpResponse:
    require_code_engine_manager(request.user)
    job = _job(project_id, job_name)
    current = dict(services.job_env_names(job))
    existing = frozenset(current)
    status = 200
    notice = ""
    if request.method != "POST":
        cfg = JobConfigForm()
        rows = env_formset(rows=_job_rows(job), existing=existing)
    else:
        action = request.POST.get("action", "save")
        cfg = JobConfigForm(request.POST, request.FILES)
        rows = _bound_rows(request.POST, existing)
        if action == "more":
            rows = _bound_rows(_more_rows(request.POST), existing)
        elif action == "import":
            rows, notice, status = _import(request, rows, cfg, existing)
        elif action == "save":
            if rows.is_valid() & cfg.is_valid():
                changes, remove = rows.edits(current)
                try:
                    deployment = definitions.job_deploy_env(
                        actor=actor_for_user(request.user),
                        project_id=job.project_id,
                        job_name=job.name,
                        changes=changes,
                        remove=remove,
                        job_config=cfg.cleaned_data["job_config"],
                    )
                except ValidationError as exc:
                    _show_errors(exc, rows, cfg, fields=("job_config",))
                except ServiceError as exc:
                    cfg.add_error(None, exc.message)
                else:
                    messages.success(request, _deployed_message(deployment))
                    return finish(request, reverse("cloud:ce-job-env", args=[project_id, job_name]))
            status = 422
    context = _rows_context(
        rows, **job_context(job, tab="env", form=cfg, notice=notice, secret_names=job.secret_names)
    )
    return render_page_or_partial(
        request, "cloud/ce_job_env.html", "env-form", context, status=status
    )


def _deployed_message(deployment: definitions.Deployment) -> str:
    if not deployment.changed and not deployment.removed:
        return "Nothing to deploy: the variables are as they were."
    parts = []
    if deployment.changed:
        parts.append(f"set {', '.join(deployment.changed)}")
    if deployment.removed:
        parts.append(f"removed {', '.join(deployment.removed)}")
    kept = deployment.retention
    retention = (
        "Completed runs are removed immediately (CE_REMOVE_COMPLETED_JOBS=IMMEDIATELY)."
        if kept.strip() == "IMMEDIATELY"
        else f"Completed runs, and their logs, are now kept for {kept}."
    )
    return f"Deployed: {'; '.join(parts)}. Later runs use the new variables. {retention}"


@require_POST
def schema_preview(request: AuthedRequest) -> HttpResponse:
    """The schema that the posted rows declare (htmx swaps it in while they are edited)."""
    require_code_engine_manager(request.user)
    rows = _bound_rows(request.POST, frozenset())
    response = render(request, "cloud/_schema_preview.html", {"preview": _preview(rows)})
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------------------------
# Edit the command, delete


@require_http_methods(["GET", "POST"])
def job_edit(request: AuthedRequest, project_id: str, job_name: str) -> HttpResponse:
    require_code_engine_manager(request.user)
    job = _job(project_id, job_name)
    form = CommandForm(request.POST or None, initial={"command": commands.display(job.command)})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                definitions.job_update_command(
                    actor=actor_for_user(request.user),
                    project_id=job.project_id,
                    job_name=job.name,
                    command=form.cleaned_data["command"],
                )
            except ValidationError as exc:
                form.add_error("command", exc.message_dict.get("command", exc.messages))
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Job {job.name} now runs the new command.")
                return finish(request, reverse("cloud:ce-job", args=[project_id, job_name]))
        status = 422
    context = job_context(
        job, tab="configuration", form=form, suggestions=commands.available_programs()
    )
    return render_page_or_partial(
        request, "cloud/ce_job_edit.html", "command-form", context, status=status
    )


@require_http_methods(["GET", "POST"])
def job_delete(request: AuthedRequest, project_id: str, job_name: str) -> HttpResponse:
    require_code_engine_manager(request.user)
    job = _job(project_id, job_name)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            definitions.job_delete(
                actor=actor_for_user(request.user), project_id=job.project_id, job_name=job.name
            )
        except ServiceError as exc:
            error, status = exc.message, 422
        else:
            messages.success(request, f"Job {job_name} deleted.")
            return finish(request, reverse("cloud:ce-project", args=[project_id]))
    context = job_context(job, tab="configuration", error=error)
    return render_page_or_partial(
        request, "cloud/ce_job_delete.html", "job-delete", context, status=status
    )
