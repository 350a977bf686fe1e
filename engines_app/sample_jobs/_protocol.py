"""The credentials provider job protocol, shared by the sample jobs (reference/sm-api.md §5).

A job run reads its context from ``SM_*`` environment variables, does its work, and reports the
outcome with ``PUT {SM_INSTANCE_URL}/api/v2/secrets/{SM_SECRET_ID}/tasks/{SM_SECRET_TASK_ID}``,
authenticated with an IAM access token obtained for ``SM_ACCESS_APIKEY`` (§1.2).

Only the standard library is used here. Nothing secret (the API key, the access token, credential
values) is ever written to stdout/stderr or placed in an exception message: progress lines name the
task, the action and the credentials *id* only.

Exit codes (see :func:`run_job`):

* 0: the outcome was delivered to the task, i.e. ``credentials_created``, ``credentials_deleted``
  or a ``failed`` report (the task status, not the exit code, carries the provider error).
* 1: the job could not start (missing environment), could not obtain an access token, could not
  deliver any report, or created credentials whose report was refused (they are undone first).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Imports are most of a run's cost (issue 13's profile: 57 of a token run's 65 ms of Python),
# so the job imports only what it uses: http.client rather than urllib.request (which adds
# about 8 ms of imports for handlers the jobs do not use), and typing for the type checker only
# (mypy reads a module-level TYPE_CHECKING as typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE = "create_credentials"
DELETE = "delete_credentials"

REQUIRED_ENV: tuple[str, ...] = (
    "SM_ACTION",
    "SM_TRIGGER",
    "SM_INSTANCE_URL",
    "SM_SECRET_TASK_ID",
    "SM_SECRET_ID",
    "SM_SECRET_NAME",
    "SM_SECRET_GROUP_ID",
    "SM_ACCESS_APIKEY",
)

APIKEY_GRANT_TYPE = "urn:ibm:params:oauth:grant-type:apikey"

MAX_ATTEMPTS = 3
BACKOFF_SECONDS: tuple[float, ...] = (0.5, 1.0)
# Longer than the console waits for a database lock (SQLite's busy timeout is 20 s), so that a
# report the console is still working on is answered, with 503 if the lock outlasted its wait,
# before the job gives up on it: a request abandoned by the job could otherwise still store the
# credentials after the job, out of attempts, undid them.
REQUEST_TIMEOUT_SECONDS = 30.0
MAX_DESCRIPTION_CHARS = 1000


class ConfigError(Exception):
    """The run's environment is incomplete or malformed; the job cannot start."""


class JobError(Exception):
    """A provider failure to report as ``failed`` with a provider error code.

    ``description`` is shown to the user in the console, so it must be actionable and must never
    contain a secret value.
    """

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class DeliveryError(Exception):
    """An HTTP exchange with IAM or Secrets Manager did not succeed (message holds no secrets)."""


@dataclass(frozen=True)
class JobContext:
    """Everything a job run learns from its environment."""

    action: str
    trigger: str
    instance_url: str
    iam_url: str
    task_id: str
    secret_id: str
    secret_name: str
    secret_group_id: str
    api_key: str = field(repr=False)
    credentials_id: str | None = None
    secret_version_id: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def param(self, name: str) -> str | None:
        """The value of input parameter ``name`` (``SM_<NAME>_VALUE``); ``None`` when unset or empty."""
        value = self.environ.get(f"SM_{name.upper()}_VALUE", "")
        return value if value.strip() else None

    def log(self, message: str) -> None:
        """A progress line on stdout, prefixed with the task id and action."""
        print(f"{self.task_id} {printable(self.action)}: {message}", flush=True)

    def warn(self, message: str) -> None:
        """A problem line on stderr, prefixed with the task id and action."""
        print(f"{self.task_id} {printable(self.action)}: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Created:
    """The result of a successful create: what to report and how to undo it."""

    credentials_id: str
    payload: dict[str, str | int | bool] = field(repr=False)
    undo: Callable[[], None] = field(repr=False)
    summary: str = ""


def printable(value: str, limit: int = 80) -> str:
    """``value`` made safe for a one-line log or message (no control characters, bounded)."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _base_url(name: str, value: str) -> str:
    parsed = urllib.parse.urlsplit(value)
    try:
        parsed.port  # noqa: B018 - urlsplit checks the port only when it is asked for
    except ValueError:
        raise ConfigError(f"{name} has a port that is not a number from 0 to 65535") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{name} must be an http(s) base URL")
    return value.rstrip("/")


def load_context(environ: Mapping[str, str]) -> JobContext:
    """Read the run's context; raise :class:`ConfigError` naming whatever is missing."""
    missing = [name for name in REQUIRED_ENV if not environ.get(name, "").strip()]
    if missing:
        raise ConfigError("missing required environment variable(s): " + ", ".join(missing))
    instance_url = _base_url("SM_INSTANCE_URL", environ["SM_INSTANCE_URL"].strip())
    iam_raw = environ.get("SM_IAM_URL", "").strip()
    iam_url = _base_url("SM_IAM_URL", iam_raw) if iam_raw else instance_url
    return JobContext(
        action=environ["SM_ACTION"].strip(),
        trigger=environ["SM_TRIGGER"].strip(),
        instance_url=instance_url,
        iam_url=iam_url,
        task_id=environ["SM_SECRET_TASK_ID"].strip(),
        secret_id=environ["SM_SECRET_ID"].strip(),
        secret_name=environ["SM_SECRET_NAME"].strip(),
        secret_group_id=environ["SM_SECRET_GROUP_ID"].strip(),
        api_key=environ["SM_ACCESS_APIKEY"].strip(),
        credentials_id=environ.get("SM_CREDENTIALS_ID", "").strip() or None,
        secret_version_id=environ.get("SM_SECRET_VERSION_ID", "").strip() or None,
        environ=dict(environ),
    )


# --- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """One HTTP request, sent afresh by each attempt."""

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    body: bytes | None = field(default=None, repr=False)


class _Transient(Exception):
    """A retryable outcome (connection error, 429, 5xx)."""


def _exchange(request: _Request) -> tuple[int, bytes]:
    """Send ``request``; return (status, body). Connection problems raise :class:`_Transient`.

    A redirect is answered like any other status, never followed: following it would resend
    the bearer token or the API key elsewhere.
    """
    parts = urllib.parse.urlsplit(request.url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        connection = connection_class(
            parts.hostname or "",
            parts.port,
            timeout=REQUEST_TIMEOUT_SECONDS,  # load_context checked it
        )
        try:
            connection.request(request.method, path, body=request.body, headers=request.headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
    except (http.client.HTTPException, OSError) as exc:
        raise _Transient(f"connection error ({type(exc).__name__})") from None


def _send_with_retry(ctx: JobContext, what: str, request: _Request) -> tuple[int, bytes]:
    """Up to :data:`MAX_ATTEMPTS` attempts; retry connection errors, 429 and 5xx only."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            status, body = _exchange(request)
        except _Transient as exc:
            problem = str(exc)
            if attempt == MAX_ATTEMPTS:
                raise DeliveryError(f"{what}: {problem} after {attempt} attempts") from None
        else:
            if status != 429 and status < 500:
                return status, body
            problem = f"HTTP {status}"
            if attempt == MAX_ATTEMPTS:
                return status, body
        delay = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]
        ctx.warn(f"{what}: {problem}, retrying in {delay:g}s (attempt {attempt}/{MAX_ATTEMPTS})")
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_access_token(ctx: JobContext) -> str:
    """Exchange ``SM_ACCESS_APIKEY`` for an access token at ``{iam}/identity/token`` (§1.2)."""
    form = urllib.parse.urlencode(
        {"grant_type": APIKEY_GRANT_TYPE, "apikey": ctx.api_key, "response_type": "cloud_iam"}
    ).encode("ascii")

    request = _Request(
        "POST",
        f"{ctx.iam_url}/identity/token",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        body=form,
    )
    status, body = _send_with_retry(ctx, "IAM token request", request)
    if status != 200:
        raise DeliveryError(f"IAM token request: HTTP {status}")
    try:
        document = json.loads(body)
    except ValueError:
        raise DeliveryError("IAM token request: the response is not JSON") from None
    token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token:
        raise DeliveryError("IAM token request: the response has no access_token")
    return token


def update_task(ctx: JobContext, access_token: str, body: dict[str, Any]) -> None:
    """``PUT`` the task update (§5.6); anything but HTTP 200 raises :class:`DeliveryError`."""
    secret = urllib.parse.quote(ctx.secret_id, safe="")
    task = urllib.parse.quote(ctx.task_id, safe="")
    url = f"{ctx.instance_url}/api/v2/secrets/{secret}/tasks/{task}"
    data = json.dumps(body).encode("utf-8")

    request = _Request(
        "PUT",
        url,
        headers={
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        body=data,
    )
    status, _ = _send_with_retry(ctx, f"task update ({body.get('status')})", request)
    if status != 200:
        final = " (the task cannot be updated by a retry)" if status in (400, 404) else ""
        raise DeliveryError(f"task update ({body.get('status')}): HTTP {status}{final}")


def read_secret(ctx: JobContext, access_token: str, secret_id: str) -> tuple[int, Any]:
    """``GET /api/v2/secrets/{id}`` (the secret with its value, §5.5): (status, parsed body).

    The body of a 200 is the secret; of anything else, IBM's error body or None. Needs the
    SecretsReader role on the secret's group for the job's service ID.
    """
    url = f"{ctx.instance_url}/api/v2/secrets/{urllib.parse.quote(secret_id, safe='')}"

    request = _Request(
        "GET",
        url,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    status, body = _send_with_retry(ctx, "secret read", request)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def failed_body(code: str, description: str) -> dict[str, Any]:
    """The ``failed`` task update with one provider error."""
    text = printable(description, MAX_DESCRIPTION_CHARS) or "the credentials provider failed"
    return {"status": "failed", "errors": [{"code": code, "description": text}]}


# --- The job run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """A provider's behaviour and error codes, driven by :func:`run_job`."""

    name: str
    create: Callable[[JobContext], Created]
    delete: Callable[[JobContext], str]
    unknown_action_code: str
    internal_error_code: str
    internal_error_message: str


def _report_failure(ctx: JobContext, token: str, code: str, description: str) -> int:
    ctx.warn(f"reporting failed {code}: {printable(description, 200)}")
    try:
        update_task(ctx, token, failed_body(code, description))
    except DeliveryError as exc:
        ctx.warn(f"could not deliver the failure report: {exc}")
        return 1
    ctx.log(f"task updated: failed ({code})")
    return 0


def _run_create(ctx: JobContext, token: str, provider: Provider) -> int:
    try:
        created = provider.create(ctx)
    except JobError as exc:
        return _report_failure(ctx, token, exc.code, exc.description)
    except Exception as exc:  # any provider crash becomes a failed task
        ctx.warn(f"unexpected {type(exc).__name__} while creating credentials")
        return _report_failure(
            ctx, token, provider.internal_error_code, provider.internal_error_message
        )
    if created.summary:
        ctx.log(created.summary)
    body = {
        "status": "credentials_created",
        "credentials": {"id": created.credentials_id, "payload": created.payload},
    }
    try:
        update_task(ctx, token, body)
    except DeliveryError as exc:
        ctx.warn(f"{exc}; undoing credentials {created.credentials_id}")
        try:
            created.undo()
        except Exception as undo_exc:  # report the class only: no secrets
            ctx.warn(
                f"compensation failed ({type(undo_exc).__name__}): credentials "
                f"{created.credentials_id} may still exist"
            )
        else:
            ctx.warn(f"compensation done: credentials {created.credentials_id} deleted")
        return 1
    ctx.log(f"task updated: credentials_created (credentials {created.credentials_id})")
    return 0


def _run_delete(ctx: JobContext, token: str, provider: Provider) -> int:
    try:
        summary = provider.delete(ctx)
    except JobError as exc:
        return _report_failure(ctx, token, exc.code, exc.description)
    except Exception as exc:  # any provider crash becomes a failed task
        ctx.warn(f"unexpected {type(exc).__name__} while deleting credentials")
        return _report_failure(
            ctx, token, provider.internal_error_code, provider.internal_error_message
        )
    if summary:
        ctx.log(summary)
    try:
        update_task(ctx, token, {"status": "credentials_deleted"})
    except DeliveryError as exc:
        ctx.warn(str(exc))
        return 1
    ctx.log("task updated: credentials_deleted")
    return 0


def run_job(provider: Provider, environ: Mapping[str, str]) -> int:
    """Run one job: read the environment, authenticate, act, report. Returns the exit code."""
    try:
        ctx = load_context(environ)
    except ConfigError as exc:
        print(f"{provider.name}: cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    ctx.log(f"{provider.name} started (trigger {printable(ctx.trigger)})")
    try:
        token = fetch_access_token(ctx)
    except DeliveryError as exc:
        ctx.warn(f"cannot authenticate: {exc}")
        return 1
    if ctx.action == CREATE:
        return _run_create(ctx, token, provider)
    if ctx.action == DELETE:
        return _run_delete(ctx, token, provider)
    return _report_failure(
        ctx,
        token,
        provider.unknown_action_code,
        f"unknown action '{printable(ctx.action)}': expected {CREATE} or {DELETE}",
    )


def main(provider: Provider) -> int:
    """Entry point for a job script: :func:`run_job` on ``os.environ``, never leaking a traceback.

    Exception messages may quote data, so an unexpected crash is reported by class name only.
    """
    try:
        return run_job(provider, os.environ)
    except Exception as exc:  # the last line of defence against leaking values in a traceback
        print(f"{provider.name}: unexpected {type(exc).__name__}; exiting", file=sys.stderr)
        return 1


def int_param(ctx: JobContext, name: str, *, default: int, low: int, high: int, code: str) -> int:
    """An integer input parameter in ``[low, high]``; a bad value raises :class:`JobError`."""
    raw = ctx.param(name)
    if raw is None:
        return default
    text = raw.strip()
    digits = text[1:] if text.startswith("+") else text
    valid = digits.isascii() and digits.isdigit() and len(digits) <= 18
    value = int(digits) if valid else None
    if value is None or not low <= value <= high:
        raise JobError(code, f"{name} must be a whole number between {low} and {high}")
    return value
