"""The audit log's one writer. Callers pass ids and names; values never go in.

Allowed operations call `audit_record` inside their own transaction, so a row that cannot be
written makes the operation fail and roll back (fail closed: a value is never returned unless its
read is on record). Refusals call `audit_denied`: the refusal raises, and that exception rolls back
whatever the refused operation had written, so during a request the row is kept aside and
written by `console.audit_middleware.AuditMiddleware` once the response is ready, outside every
transaction; outside a request (a background task, a command) it is written at once, so there a
refusal inside a transaction that rolls back loses its row (background code acts as Secrets
Manager, which holds every role, so it is not refused in practice).

"From where": the middleware notes the request's channel (console or API) and client address in
a context variable that every row written during the request reads, so services never pass the
request on. Rows written without a request come from the worker.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404, HttpRequest

from console.api import is_json_path
from console.identity import Actor, actor_for_user
from console.models import AuditEvent

ALLOWED = AuditEvent.Outcome.ALLOWED.value
DENIED = AuditEvent.Outcome.DENIED.value
SERVICE_ID_PREFIX = "iam-ServiceId-"


@dataclass(frozen=True)
class AuditSubject:
    """The object an access decision is about: a secret, a group, the instance..."""

    object_type: str
    object_id: str
    object_name: str = ""


INSTANCE = AuditSubject("instance", "", "this instance")
AUDIT_LOG = AuditSubject("audit_log", "", "the audit log")


@dataclass(frozen=True)
class _Denial:
    actor: Actor | None
    action: str
    subject: AuditSubject
    detail: tuple[tuple[str, Any], ...]


@dataclass
class RequestOrigin:
    """Where the current request comes from, and the refusals it met so far."""

    channel: str
    source_ip: str | None
    denials: list[_Denial] = field(default_factory=list)


_origin: ContextVar[RequestOrigin | None] = ContextVar("sm_audit_origin", default=None)


def client_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or the header a trusted proxy sets if settings name one.

    With settings.SM_TRUSTED_PROXY_HEADER (e.g. X-Forwarded-For) the last address in that header
    is used: the one the proxy itself appended (earlier ones are the client's own claim). Only
    name a header that the proxy always sets, and only when clients cannot reach the server
    without going through it.
    """
    header = str(getattr(settings, "SM_TRUSTED_PROXY_HEADER", "") or "")
    candidates = []
    if header:
        candidates.append(request.headers.get(header, "").rsplit(",", 1)[-1].strip())
    candidates.append(str(request.META.get("REMOTE_ADDR", "")).strip())
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


@contextmanager
def request_origin(request: HttpRequest) -> Iterator[RequestOrigin]:
    """While a request is served: the origin that rows written meanwhile record."""
    channel = AuditEvent.Channel.API if is_json_path(request.path) else AuditEvent.Channel.CONSOLE
    origin = RequestOrigin(channel=channel.value, source_ip=client_address(request))
    token = _origin.set(origin)
    try:
        yield origin
    finally:
        _origin.reset(token)


def actor_type(actor: Actor | None) -> str:
    if actor is None:
        return AuditEvent.ActorType.ANONYMOUS.value
    if actor.system:
        return AuditEvent.ActorType.SYSTEM.value
    if actor.iam_id.startswith(SERVICE_ID_PREFIX):
        return AuditEvent.ActorType.SERVICE_ID.value
    return AuditEvent.ActorType.USER.value


def _field(model_field: str, value: str) -> str:
    """The value cut to its column's length (an over-long name must not fail the operation)."""
    column = AuditEvent._meta.get_field(model_field)
    limit = getattr(column, "max_length", None) or len(value)
    return value[:limit]


def _write(
    *,
    actor: Actor | None,
    action: str,
    subject: AuditSubject,
    detail: dict[str, Any],
    outcome: str,
) -> AuditEvent:
    origin = _origin.get()
    return AuditEvent.objects.create(
        actor_id=_field("actor_id", actor.iam_id if actor else ""),
        actor_name=_field("actor_name", actor.name if actor else ""),
        actor_type=actor_type(actor),
        action=_field("action", action),
        object_type=_field("object_type", subject.object_type),
        object_id=_field("object_id", str(subject.object_id)),
        object_name=_field("object_name", subject.object_name),
        outcome=outcome,
        channel=origin.channel if origin else AuditEvent.Channel.WORKER.value,
        source_ip=origin.source_ip if origin else None,
        detail=detail,
    )


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    object_name: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record an allowed operation, in the caller's transaction; an error here fails the caller."""
    return _write(
        actor=actor,
        action=action,
        subject=AuditSubject(object_type, str(object_id), object_name),
        detail=detail or {},
        outcome=ALLOWED,
    )


def audit_denied(
    *,
    actor: Actor | None,
    action: str,
    subject: AuditSubject,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a refusal: `actor` (None: not signed in) may not take `action` on `subject`.

    Call it where the refusal is decided, just before raising. During a request the row is
    written when the request ends (a refusal met twice in one request is written once).
    """
    denial = _Denial(
        actor=actor, action=action, subject=subject, detail=tuple((detail or {}).items())
    )
    origin = _origin.get()
    if origin is None:
        _write(
            actor=actor, action=action, subject=subject, detail=dict(denial.detail), outcome=DENIED
        )
    elif denial not in origin.denials:
        origin.denials.append(denial)


def write_request_denials(
    origin: RequestOrigin,
    *,
    requester: Actor | None,
    method: str,
    path: str,
    status: int,
    view_name: str,
) -> None:
    """Write the refusals a request met (AuditMiddleware, once the response is ready).

    A 403 answer whose refusal no access check recorded (a check in a view, a CSRF failure) is
    recorded too, as `http.forbidden` on the URL, so that no refused request goes unrecorded.
    """
    denials = list(origin.denials)
    origin.denials.clear()
    if not denials and status == 403:
        denials.append(
            _Denial(
                actor=requester,
                action="http.forbidden",
                subject=AuditSubject("url", view_name, path),
                detail=(),
            )
        )
    for denial in denials:
        _write(
            actor=denial.actor if denial.actor is not None else requester,
            action=denial.action,
            subject=denial.subject,
            detail={**dict(denial.detail), "method": method, "path": path, "status": status},
            outcome=DENIED,
        )


# --- Who may read the audit log ---------------------------------------------------------------

AuditReaderCheck = Callable[[AbstractBaseUser | AnonymousUser], bool]
_reader_check: list[AuditReaderCheck] = []


def register_audit_reader_check(check: AuditReaderCheck) -> None:
    """The IAM layer says who may read the audit log (engines_app registers it at start-up)."""
    _reader_check[:] = [check]


def may_read_audit_log(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user may open the Audit page; without a registered check, superusers only."""
    if not user.is_authenticated:
        return False
    if _reader_check:
        return _reader_check[0](user)
    return bool(getattr(user, "is_superuser", False))


def require_audit_reader(user: AbstractBaseUser | AnonymousUser) -> None:
    """The Audit page's access helper: 404 for anyone else (the page is outside their scope),
    and the attempt is on record."""
    if not may_read_audit_log(user):
        actor = actor_for_user(user) if user.is_authenticated else None
        audit_denied(actor=actor, action="audit.read", subject=AUDIT_LOG)
        raise Http404("No such page.")
