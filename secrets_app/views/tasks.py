"""The Tasks page: the failed-task inbox across all secrets, its chart, its actions (Retry,
Bulk retry, Acknowledge, Give up, Cancel) and django-q2's own failures for admins.

Thin views: the filters form validates, secrets_app.services.inbox_reading reads (a fixed
number of queries per page, whatever the number of rows), secrets_app.services.inbox acts.
Every action is a plain form POST (post/redirect/get without JavaScript); with htmx, the answer
is the task's row, which polls itself while the retry it started is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from console.errors import AccessDeniedError, NotFoundError, ServiceError
from console.htmx import finish, render_page_or_partial
from console.http import AuthedRequest
from engines_app.models import ConfigType, Configuration
from secrets_app.forms.tasks import BulkRetryForm, TaskFilterForm, TaskNoteForm
from secrets_app.models import SecretGroup, SecretTask, TaskStatus, TaskType
from secrets_app.permissions import principal_of
from secrets_app.services import inbox
from secrets_app.services import inbox_reading as reading
from secrets_app.services.credentials import OPEN_TASK_STATUSES
from secrets_app.services.retries import MAX_RETRIES, retries_scheduled
from secrets_app.task_links import run_page_urls_for
from secrets_app.views.task_chart import chart_svg

PAGE_SIZE = 50


def countdown(delta_seconds: float) -> str:
    """A short remaining time: "7 h", "12 min", "40 s", or "due now"."""
    s = int(delta_seconds)
    if s <= 0:
        return "due now"
    if s >= 86400:
        days, hours = divmod(s // 3600, 24)
        return f"{days} d {hours} h" if hours else f"{days} d"
    if s >= 3600:
        hours, minutes = divmod(s // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if s >= 60:
        return f"{s // 60} min"
    return f"{s} s"


@dataclass
class Row:
    task: SecretTask
    code: str
    message: str
    run_url: str = ""
    chain: list[SecretTask] = field(default_factory=list)
    retry: SecretTask | None = None
    next_retry: str = ""  # "retry 3 of 10 in 7 h"
    timeout: str = ""  # an open task's remaining time before its timeout
    can_act: bool = False
    error: str = ""

    @property
    def retrying(self) -> bool:
        return self.retry is not None and self.retry.status in OPEN_TASK_STATUSES

    @property
    def secret_live(self) -> bool:
        return self.task.secret.deleted_at is None


def _rows(request: AuthedRequest, tasks: list[SecretTask], now: datetime) -> list[Row]:
    principal = principal_of(request.user)
    writable = reading.writable_group_ids(principal)
    runs = run_page_urls_for(request.user, tasks)
    chains = reading.lineage(tasks)
    retries = reading.latest_retries(tasks)
    scheduled = retries_scheduled(tasks)
    rows = []
    for task in tasks:
        row = Row(
            task=task,
            code=reading.first_code(task),
            message=reading.first_message(task),
            run_url=runs.get(task.pk, ""),
            chain=chains.get(task.pk, []),
            retry=retries.get(task.pk),
            can_act=writable is None or task.secret.secret_group_id in writable,
        )
        if task.pk in scheduled:
            wait = (scheduled[task.pk] - now).total_seconds()
            when = f"in {countdown(wait)}" if wait > 0 else "due now"
            row.next_retry = f"retry {task.attempt} of {MAX_RETRIES} {when}"
        if task.status == TaskStatus.PROCESSING:
            config = task.secret.configuration
            timeout = config.task_timeout_seconds if config else 0
            left = (task.last_update_date - now).total_seconds() + timeout
            row.timeout = f"times out in {countdown(left)}" if left > 0 else "timing out now"
        elif task.status == TaskStatus.QUEUED:
            row.timeout = "waiting for a worker"
        rows.append(row)
    return rows


def _next_url(request: AuthedRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("secrets:tasks")


def _filter_form(request: AuthedRequest) -> TaskFilterForm:
    principal = principal_of(request.user)
    readable = reading.readable_group_ids(principal)
    groups = SecretGroup.objects.order_by("name")
    if readable is not None:
        groups = groups.filter(pk__in=readable)
    configs = Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS)
    return TaskFilterForm(
        request.GET or None,
        configurations=list(configs.order_by("name").values_list("name", flat=True)),
        codes=reading.error_codes(principal=principal),
        groups=list(groups.values_list("pk", "name")),
    )


@never_cache
@require_GET
def task_inbox(request: AuthedRequest) -> HttpResponse:
    """The Tasks page. Not cached: task errors stay off shared and browser caches."""
    principal = principal_of(request.user)
    form = _filter_form(request)
    status = 422 if form.is_bound and not form.is_valid() else 200
    filters = form.filters()
    data = form.cleaned_data if status == 200 and form.is_bound else {}
    now = timezone.now()
    qs = reading.inbox_tasks(principal=principal, filters=filters, now=now)
    grouped = data.get("by") == "code" and filters.view != "open"
    page = Paginator(qs, PAGE_SIZE).get_page(data.get("page") or 1)
    rows = _rows(request, list(page.object_list), now)
    days, codes = reading.failure_chart(principal=principal, filters=filters, now=now)
    params = {k: v for k, v in (request.GET.items() if status == 200 else []) if v and k != "page"}
    groups = []
    if grouped:
        by_code: dict[str, list[Row]] = {}
        for row in rows:
            by_code.setdefault(row.code or "(no code)", []).append(row)
        groups = [(g, by_code[g.code]) for g in reading.failures_by_code([r.task for r in rows])]
    live = any(r.retrying or r.task.status in OPEN_TASK_STATUSES for r in rows)
    context: dict[str, Any] = {
        "form": form,
        "filters": filters,
        "views": reading.VIEWS,
        "page": page,
        "rows": rows,
        "grouped": grouped,
        "groups": groups,
        "chart": chart_svg(days, codes),
        "chart_days": [d for d in days if d.total],
        "chart_codes": codes,
        "infra": reading.infrastructure_failures(principal=principal),
        "live": live,
        "here": request.get_full_path(),
        "query": urlencode({k: v for k, v in params.items() if k != "view"}),
        "page_query": urlencode(params),
        "max_retries": MAX_RETRIES,
    }
    response = render_page_or_partial(
        request, "tasks/inbox.html", "inbox-table", context, status=status
    )
    if request.htmx and request.headers.get("HX-Trigger-Name") == "poll" and not live:
        stop = HttpResponseStopPolling(response.content)
        stop["Vary"] = "HX-Request"
        return stop
    return response


def _row_response(
    request: AuthedRequest, task_id: str, *, error: str = "", status: int = 200
) -> HttpResponse:
    principal = principal_of(request.user)
    try:
        task = reading.task_get(principal=principal, task_id=task_id)
    except NotFoundError:
        raise Http404("No such task.") from None
    row = _rows(request, [task], timezone.now())[0]
    row.error = error
    context = {"row": row, "here": _next_url(request, request.GET.get("next")), "single": True}
    response = render(request, "tasks/row.html", context, status=status)
    response["Vary"] = "HX-Request"
    if status == 200 and not (row.retrying or task.status in OPEN_TASK_STATUSES):
        stop = HttpResponseStopPolling(response.content)
        stop["Vary"] = "HX-Request"
        return stop
    return response


@never_cache
@require_GET
def task_row(request: AuthedRequest, task_id: str) -> HttpResponse:
    """One row, for htmx polling while its retry (or itself) is open; 286 stops the polling."""
    return _row_response(request, task_id)


def _acted(request: AuthedRequest, task_id: str, message: str, next_url: str) -> HttpResponse:
    if request.htmx:
        return _row_response(request, task_id)
    messages.success(request, message)
    return finish(request, next_url)


def _refused(
    request: AuthedRequest, task_id: str, error: str, *, form: TaskNoteForm | None, action: str
) -> HttpResponse:
    if request.htmx:
        return _row_response(request, task_id, error=error, status=422)
    principal = principal_of(request.user)
    try:
        task = reading.task_get(principal=principal, task_id=task_id)
    except NotFoundError:
        raise Http404("No such task.") from None
    context = {
        "task": task,
        "action": action,
        "error": error,
        "form": form,
        "next": _next_url(request, request.POST.get("next") or request.GET.get("next")),
    }
    return render(request, "tasks/action.html", context, status=422)


def _service_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    assert isinstance(exc, ServiceError)
    return exc.message


@require_POST
def task_retry_view(request: AuthedRequest, task_id: str) -> HttpResponse:
    next_url = _next_url(request, request.POST.get("next"))
    try:
        retry = inbox.task_retry(principal=principal_of(request.user), task_id=task_id)
    except NotFoundError:
        raise Http404("No such task.") from None
    except AccessDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except (ValidationError, ServiceError) as exc:
        return _refused(request, task_id, _service_error(exc), form=None, action="retry")
    return _acted(
        request,
        task_id,
        f"Task {task_id} retried: {retry.pk} (attempt {retry.attempt}) is queued.",
        next_url,
    )


_NOTE_ACTIONS = {
    # action: (service, note required, success message)
    "acknowledge": (inbox.task_acknowledge, True, "acknowledged"),
    "give-up": (inbox.task_give_up, False, "given up: its credentials are recorded as orphaned"),
}


@require_http_methods(["GET", "POST"])
def task_note_action(request: AuthedRequest, task_id: str, action: str) -> HttpResponse:
    """Acknowledge (a note is required) or Give up (a note is optional). GET shows the form on
    a page of its own; the inbox shows the same form inline."""
    if action not in _NOTE_ACTIONS:
        raise Http404("No such action.")
    service, note_required, done = _NOTE_ACTIONS[action]
    principal = principal_of(request.user)
    if request.method == "GET":
        try:
            task = reading.task_get_for_action(principal=principal, task_id=task_id)
        except NotFoundError:
            raise Http404("No such task.") from None
        except AccessDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        form = TaskNoteForm(note_required=note_required, initial={"next": request.GET.get("next")})
        context = {
            "task": task,
            "action": action,
            "form": form,
            "next": _next_url(request, request.GET.get("next")),
        }
        return render(request, "tasks/action.html", context)
    form = TaskNoteForm(request.POST, note_required=note_required)
    next_url = _next_url(request, request.POST.get("next"))
    if not form.is_valid():
        error = " ".join(str(m) for ms in form.errors.values() for m in ms)
        return _refused(request, task_id, error, form=form, action=action)
    try:
        service(principal=principal, task_id=task_id, note=form.cleaned_data["note"])
    except NotFoundError:
        raise Http404("No such task.") from None
    except AccessDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except (ValidationError, ServiceError) as exc:
        return _refused(request, task_id, _service_error(exc), form=form, action=action)
    return _acted(request, task_id, f"Task {task_id} {done}.", next_url)


@require_POST
def task_cancel_view(request: AuthedRequest, task_id: str) -> HttpResponse:
    next_url = _next_url(request, request.POST.get("next"))
    try:
        inbox.task_cancel(principal=principal_of(request.user), task_id=task_id)
    except NotFoundError:
        raise Http404("No such task.") from None
    except AccessDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except ServiceError as exc:
        return _refused(request, task_id, exc.message, form=None, action="cancel")
    return _acted(request, task_id, f"Task {task_id} cancelled.", next_url)


# ---------------------------------------------------------------------------------------------
# Bulk retry: a preview of exactly what will run, then a POST of exactly those


def _preview(request: AuthedRequest, task_ids: list[str]) -> dict[str, Any]:
    """The chosen tasks split into those a retry will run and those it will not (and why)."""
    principal = principal_of(request.user)
    writable = reading.writable_group_ids(principal)
    chosen = list(
        reading.visible_tasks(principal)
        .select_related("secret__secret_group", "secret__configuration")
        .filter(pk__in=task_ids)
        .order_by("-last_update_date", "pk")
    )
    will, wont = [], []
    for task in chosen:
        reason = ""
        if task.status != TaskStatus.FAILED:
            reason = f"it is {task.get_status_display().lower()}, not failed"
        elif task.resolution:
            reason = f"it was already resolved ({task.get_resolution_display().lower()})"
        elif writable is not None and task.secret.secret_group_id not in writable:
            reason = f"you need the Writer role on group {task.secret.secret_group.name}"
        elif blocker := inbox.retry_blocker(task):
            reason = blocker[0].lower() + blocker[1:].rstrip(".")
        if reason:
            wont.append((task, reason))
        else:
            will.append((task, reading.task_stamp(task)))
    return {
        "will": will,
        "wont": wont,
        "missing": len(set(task_ids)) - len(chosen),
        "creates": sum(1 for t, _ in will if t.type == TaskType.CREATE_CREDENTIALS),
        "deletes": sum(1 for t, _ in will if t.type == TaskType.DELETE_CREDENTIALS),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def bulk_retry(request: AuthedRequest) -> HttpResponse:
    if request.method == "GET":
        task_ids = [t for t in request.GET.getlist("task") if t][:PAGE_SIZE]
        if request.GET.get("all") == "shown":
            filter_form = _filter_form(request)
            task_ids = [
                t.pk
                for t in reading.inbox_tasks(
                    principal=principal_of(request.user), filters=filter_form.filters()
                ).filter(resolution="")[:PAGE_SIZE]
            ]
        context = _preview(request, task_ids)
        context["back"] = _next_url(request, request.GET.get("next"))
        return render(request, "tasks/bulk_retry.html", context)
    form = BulkRetryForm(request.POST)
    back = _next_url(request, request.POST.get("next"))
    if not form.is_valid():
        context = _preview(request, [])
        context.update(back=back, error=" ".join(str(m) for m in form.errors.get("previewed", [])))
        return render(request, "tasks/bulk_retry.html", context, status=422)
    previewed = [inbox.PreviewedTask(task_id=t, stamp=s) for t, s in form.cleaned_data["previewed"]]
    try:
        retries = inbox.tasks_bulk_retry(principal=principal_of(request.user), previewed=previewed)
    except AccessDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except (ValidationError, ServiceError) as exc:
        context = _preview(request, [p.task_id for p in previewed])
        changed = exc.changed if isinstance(exc, inbox.PreviewChangedError) else []
        context.update(back=back, error=_service_error(exc), changed=changed)
        return render(request, "tasks/bulk_retry.html", context, status=422)
    messages.success(
        request, f"{len(retries)} task{'s' if len(retries) != 1 else ''} retried: each is queued."
    )
    return finish(request, back)
