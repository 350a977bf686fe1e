"""The failed-task inbox, read side: which tasks a principal sees, filtered, grouped and
charted, their lineage and retry schedule, and django-q2's own failures for admins. The actions
are in secrets_app.services.inbox.

Reading needs Reader (secret_task.read) on the task's secret group. Every function here costs
a fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import Field, Model, Q, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone

from console.audit import AuditSubject, audit_denied
from console.errors import AccessDeniedError, NotFoundError
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import (
    Secret,
    SecretTask,
    TaskResolution,
    TaskStatus,
)
from secrets_app.services.credentials import OPEN_TASK_STATUSES

READ_ACTION = "secret_task.read"  # Reader
WRITE_ACTION = "secret.update"  # Writer
ADMIN_ACTION = "secret_group.manage"  # Manager on the instance: django-q2's own failures

SUCCESS_STATUSES = (TaskStatus.CREDENTIALS_CREATED, TaskStatus.CREDENTIALS_DELETED)
RESOLVED_LABELS = {
    TaskResolution.RETRIED: "retried",
    TaskResolution.ACKNOWLEDGED: "acknowledged",
    TaskResolution.GAVE_UP: "gave up",
    TaskResolution.SUCCEEDED_LATER: "succeeded later",
}
# The age filter: its query-string values, labels and the window each keeps.
AGES: dict[str, tuple[str, timedelta | None, timedelta | None]] = {
    "1d": ("Last 24 hours", None, timedelta(days=1)),
    "7d": ("Last 7 days", None, timedelta(days=7)),
    "30d": ("Last 30 days", None, timedelta(days=30)),
    "older": ("Older than 30 days", timedelta(days=30), None),
}
VIEWS = {
    "failed": "Failed, unresolved",
    "open": "Queued and processing",
    "resolved": "Resolved",
}
CHART_DAYS = 30


@dataclass(frozen=True)
class InboxFilters:
    view: str = "failed"
    configuration: str = ""
    error_code: str = ""
    task_type: str = ""
    trigger: str = ""
    group: str = ""
    age: str = ""


def first_code(task: SecretTask) -> str:
    return str(task.errors[0].get("code", "")) if task.errors else ""


def first_message(task: SecretTask) -> str:
    return str(task.errors[0].get("description", "")) if task.errors else ""


def task_stamp(task: SecretTask) -> str:
    """What a preview saw of a task: it changes when its status, resolution or update time do."""
    seen = f"{task.pk}|{task.status}|{task.resolution}|{task.last_update_date.isoformat()}"
    return hashlib.sha256(seen.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Who sees and acts on what


def readable_group_ids(principal: Principal) -> set[str] | None:
    """Groups whose tasks the principal may read; None means every group."""
    return get_iam().group_ids_allowing(principal, READ_ACTION)


def writable_group_ids(principal: Principal) -> set[str] | None:
    return get_iam().group_ids_allowing(principal, WRITE_ACTION)


def may_see_infrastructure(principal: Principal) -> bool:
    return get_iam().is_allowed(principal, ADMIN_ACTION, secret_group_id=None)


def visible_tasks(principal: Principal) -> QuerySet[SecretTask]:
    """Tasks of the groups the principal may read. Probes of "Test configuration" are left out
    (their page shows them); force-deleted secrets' delete tasks are in."""
    qs = SecretTask.objects.filter(secret__probe=False)
    readable = readable_group_ids(principal)
    return qs if readable is None else qs.filter(secret__secret_group_id__in=readable)


def unresolved_failed(qs: QuerySet[SecretTask]) -> QuerySet[SecretTask]:
    return qs.filter(status=TaskStatus.FAILED, resolution="")


def unresolved_failed_count(*, principal: Principal) -> int:
    """The navigation badge: one COUNT, plus the principal's policies.

    The rows of `unresolved_failed(visible_tasks(principal))`, counted in SQL written once
    here: every console page prints the badge, and building and compiling that queryset cost
    0.42 of the 0.45 ms the count took (issue 13's profile; the query itself, 30 µs).
    tests/inbox/test_inbox_page.py holds the two to the same answer."""
    readable = readable_group_ids(principal)
    if readable is not None and not readable:
        return 0
    sql = _badge_sql(connection.vendor)
    params: list[str] = [TaskStatus.FAILED.value, ""]
    if readable is not None:
        group = _quoted(Secret, "secret_group")
        sql += f" AND {group} IN ({', '.join(['%s'] * len(readable))})"
        params.extend(sorted(readable))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0])


@cache
def _badge_sql(vendor: str) -> str:
    """The badge's count for a principal who sees every group (`vendor` keys the cache: the
    quoting is the database's)."""
    task, secret = _quoted_table(SecretTask), _quoted_table(Secret)
    return (
        f"SELECT COUNT(*) FROM {task} INNER JOIN {secret} "
        f"ON {_quoted(SecretTask, 'secret')} = {_quoted(Secret, 'id')} "
        f"WHERE NOT {_quoted(Secret, 'probe')} "
        f"AND {_quoted(SecretTask, 'status')} = %s AND {_quoted(SecretTask, 'resolution')} = %s"
    )


def _quoted_table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _quoted(model: type[Model], field: str) -> str:
    """`"table"."column"` of a model's field, quoted for the current database."""
    found = model._meta.get_field(field)
    assert isinstance(found, Field) and found.column is not None
    return f"{_quoted_table(model)}.{connection.ops.quote_name(found.column)}"


# ---------------------------------------------------------------------------------------------
# Reading


def _filtered(qs: QuerySet[SecretTask], filters: InboxFilters, now: datetime) -> QuerySet:
    if filters.configuration:
        qs = qs.filter(secret__configuration__name=filters.configuration)
    if filters.error_code:
        qs = qs.filter(errors__0__code=filters.error_code)
    if filters.task_type:
        qs = qs.filter(type=filters.task_type)
    if filters.trigger:
        qs = qs.filter(trigger=filters.trigger)
    if filters.group:
        qs = qs.filter(secret__secret_group_id=filters.group)
    if filters.age in AGES:
        _, older_than, within = AGES[filters.age]
        if older_than is not None:
            qs = qs.filter(last_update_date__lt=now - older_than)
        if within is not None:
            qs = qs.filter(last_update_date__gte=now - within)
    return qs


def _in_view(qs: QuerySet[SecretTask], view: str) -> QuerySet[SecretTask]:
    if view == "open":
        return qs.filter(status__in=OPEN_TASK_STATUSES).order_by("creation_date", "pk")
    if view == "resolved":
        return (
            qs.filter(status=TaskStatus.FAILED)
            .exclude(resolution="")
            .order_by("-resolved_at", "-pk")
        )
    # Unresolved failures, and those retried by hand whose retry is still running: the row
    # stays until the retry ends, then shows as succeeded later (or the new failure shows).
    retrying = Q(resolution=TaskResolution.RETRIED, retries__status__in=OPEN_TASK_STATUSES)
    return (
        qs.filter(status=TaskStatus.FAILED)
        .filter(Q(resolution="") | retrying)
        .distinct()
        .order_by("-last_update_date", "-pk")
    )


def inbox_tasks(
    *, principal: Principal, filters: InboxFilters, now: datetime | None = None
) -> QuerySet[SecretTask]:
    """The rows of a view, filtered, newest failure first (oldest first for open tasks)."""
    now = now or timezone.now()
    qs = _filtered(visible_tasks(principal), filters, now)
    return _in_view(qs, filters.view).select_related(
        "secret__secret_group", "secret__configuration", "retry_of"
    )


@dataclass(frozen=True)
class CodeGroup:
    code: str
    count: int
    message: str  # the newest failure's message


def failures_by_code(tasks: Sequence[SecretTask]) -> list[CodeGroup]:
    """Rows grouped by their first error code, biggest group first; in memory, from rows the
    page holds already (no query)."""
    groups: dict[str, list[SecretTask]] = {}
    for task in tasks:
        groups.setdefault(first_code(task) or "(no code)", []).append(task)
    found = [
        CodeGroup(code=code, count=len(rows), message=first_message(rows[0]))
        for code, rows in groups.items()
    ]
    return sorted(found, key=lambda g: (-g.count, g.code))


def error_codes(*, principal: Principal) -> list[str]:
    """The first error codes among the failed tasks the principal may see (the filter's
    choices), in one query."""
    rows = (
        visible_tasks(principal)
        .filter(status=TaskStatus.FAILED)
        .annotate(first_code=KT("errors__0__code"))
        .values_list("first_code", flat=True)
        .distinct()
    )
    return sorted({str(c) for c in rows if c})


@dataclass(frozen=True)
class ChartDay:
    day: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def failure_chart(
    *, principal: Principal, filters: InboxFilters, now: datetime | None = None
) -> tuple[list[ChartDay], list[str]]:
    """Failures per day over the last 30 days by first error code (whatever their resolution),
    with the page's filters except the view and the age. One query."""
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=CHART_DAYS - 1)
    scoped = InboxFilters(
        configuration=filters.configuration,
        error_code=filters.error_code,
        task_type=filters.task_type,
        trigger=filters.trigger,
        group=filters.group,
    )
    rows = (
        _filtered(visible_tasks(principal), scoped, now)
        .filter(status=TaskStatus.FAILED, last_update_date__gte=start)
        .annotate(code=KT("errors__0__code"))
        .values_list("code", "last_update_date")
    )
    days = [ChartDay(day=start + timedelta(days=n), counts={}) for n in range(CHART_DAYS)]
    codes: dict[str, int] = {}
    for code, when in rows:
        index = (timezone.localtime(when).date() - start.date()).days
        if 0 <= index < CHART_DAYS:
            name = str(code or "(no code)")
            days[index].counts[name] = days[index].counts.get(name, 0) + 1
            codes[name] = codes.get(name, 0) + 1
    return days, sorted(codes, key=lambda c: (-codes[c], c))


def lineage(tasks: Iterable[SecretTask]) -> dict[str, list[SecretTask]]:
    """Task id -> the tasks it retried, nearest first (its retry_of chain). One query per level
    of the deepest chain (at most the ladder's length), whatever the number of rows."""
    chains: dict[str, list[SecretTask]] = {t.pk: [] for t in tasks}
    tip = {t.pk: t.retry_of_id for t in tasks}
    known: dict[str, SecretTask] = {}
    while wanted := {p for p in tip.values() if p and p not in known}:
        for found in SecretTask.objects.filter(pk__in=wanted):
            known[found.pk] = found
        wanted -= set(known)
        for pk in wanted:  # pruned from the history
            known[pk] = None  # type: ignore[assignment]
        nxt: dict[str, str | None] = {}
        for pk, parent_id in tip.items():
            parent = known.get(parent_id) if parent_id else None
            if parent is not None:
                chains[pk].append(parent)
                nxt[pk] = parent.retry_of_id
        tip = nxt
    return chains


def latest_retries(tasks: Iterable[SecretTask]) -> dict[str, SecretTask]:
    """Task id -> the retry made of it (the newest, if ever more than one), in one query."""
    found: dict[str, SecretTask] = {}
    ids = [t.pk for t in tasks]
    for retry in SecretTask.objects.filter(retry_of_id__in=ids).order_by("creation_date"):
        assert retry.retry_of_id is not None
        found[retry.retry_of_id] = retry
    return found


def task_get(*, principal: Principal, task_id: str) -> SecretTask:
    """One task the principal may read (404 otherwise, saying nothing about it)."""
    task = (
        visible_tasks(principal)
        .select_related("secret__secret_group", "secret__configuration", "retry_of")
        .filter(pk=task_id)
        .first()
    )
    if task is None:
        raise NotFoundError(f"There is no task {task_id}.")
    return task


def task_get_for_action(*, principal: Principal, task_id: str) -> SecretTask:
    """A task the principal may read (404 otherwise) and act on: the Writer role on its group
    (403 otherwise, on record), as every action on it (secrets_app.services.inbox) requires."""
    task = task_get(principal=principal, task_id=task_id)
    group = task.secret.secret_group
    if not get_iam().is_allowed(principal, WRITE_ACTION, secret_group_id=group.pk):
        audit_denied(
            actor=principal.actor,
            action=WRITE_ACTION,
            subject=AuditSubject("secret_task", task.pk, task.secret.name),
        )
        raise AccessDeniedError(
            f"You need the Writer role on secret group {group.name} to act on its tasks."
        )
    return task


# ---------------------------------------------------------------------------------------------
# django-q2's own failures (infrastructure errors, not provider errors)

INFRA_SHOWN = 20
_TOKENISH = re.compile(r"[A-Za-z0-9_\-+/=.]{24,}")
_ASSIGNED = re.compile(
    r"(?i)\b(key|token|secret|password|passwd|apikey|api_key|authorization)\b(\s*[=:]\s*)\S+"
)


@dataclass(frozen=True)
class InfraFailure:
    func: str
    name: str
    at: datetime | None
    error: str  # the exception's first line, redacted


def redact_first_line(text: str) -> str:
    """The first line of an error, with anything that looks like a credential blanked: long
    token-like runs and `key=...` style assignments. At most 200 characters."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", line)
    line = _TOKENISH.sub("[redacted]", line)
    return line[:200]


def infrastructure_failures(*, principal: Principal) -> list[InfraFailure] | None:
    """The newest django-q2 failures, for Managers on the instance (None for anyone else).
    Their arguments are never read: only the function, the time and the error's first line."""
    if not may_see_infrastructure(principal):
        return None
    from django_q.models import Failure

    rows = Failure.objects.order_by("-stopped").values_list("func", "name", "stopped", "result")[
        :INFRA_SHOWN
    ]
    return [
        InfraFailure(
            func=str(func), name=str(name), at=stopped, error=redact_first_line(str(result or ""))
        )
        for func, name, stopped, result in rows
    ]
