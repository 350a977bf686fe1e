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

import json
import os
import socket
import sys
import time
import urllib.parse

# Imports are most of a run's cost, and every activation pays them, so the job imports only
# what it uses (issue 13's profiles). `python -X importtime` of the token job, 2026-12-02:
# http.client took 42 of the job's 74 ms of imports (it parses headers with the email package,
# 22 ms, and loads ssl, 10 ms) and dataclasses 12 ms (inspect and ast). So the exchange below is
# a plain HTTP/1.1 request over a socket (ssl is loaded only for an https URL), the records are
# plain classes, and typing is for the type checker only (mypy reads a module-level
# TYPE_CHECKING as typing's). urllib.request would cost about 8 ms more than http.client.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
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


class JobContext:
    """Everything a job run learns from its environment (the API key is left out of repr)."""

    __slots__ = (
        "action",
        "trigger",
        "instance_url",
        "iam_url",
        "task_id",
        "secret_id",
        "secret_name",
        "secret_group_id",
        "api_key",
        "credentials_id",
        "secret_version_id",
        "environ",
    )

    def __init__(
        self,
        *,
        action: str,
        trigger: str,
        instance_url: str,
        iam_url: str,
        task_id: str,
        secret_id: str,
        secret_name: str,
        secret_group_id: str,
        api_key: str,
        credentials_id: str | None = None,
        secret_version_id: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.action = action
        self.trigger = trigger
        self.instance_url = instance_url
        self.iam_url = iam_url
        self.task_id = task_id
        self.secret_id = secret_id
        self.secret_name = secret_name
        self.secret_group_id = secret_group_id
        self.api_key = api_key
        self.credentials_id = credentials_id
        self.secret_version_id = secret_version_id
        self.environ: Mapping[str, str] = environ if environ is not None else {}

    def __repr__(self) -> str:
        return f"JobContext(action={self.action!r}, task_id={self.task_id!r})"

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


class Created:
    """The result of a successful create: what to report and how to undo it."""

    __slots__ = ("credentials_id", "payload", "undo", "summary")

    def __init__(
        self,
        *,
        credentials_id: str,
        payload: dict[str, str | int | bool],
        undo: Callable[[], None],
        summary: str = "",
    ) -> None:
        self.credentials_id = credentials_id
        self.payload = payload
        self.undo = undo
        self.summary = summary

    def __repr__(self) -> str:  # never the payload: it holds the credentials
        return f"Created(credentials_id={self.credentials_id!r})"


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


class _Request:
    """One HTTP request, sent afresh by each attempt."""

    __slots__ = ("method", "url", "headers", "body")

    def __init__(
        self, method: str, url: str, *, headers: dict[str, str], body: bytes | None = None
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body


class _Transient(Exception):
    """A retryable outcome (connection error, 429, 5xx)."""


# The largest response read: a secret read (§5.5) returns the secret with its payload.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


def _exchange(request: _Request) -> tuple[int, bytes]:
    """Send ``request``; return (status, body). Connection problems raise :class:`_Transient`.

    One request per connection (``Connection: close``): the response is read to the end of the
    stream and then parsed. A redirect is answered like any other status, never followed:
    following it would resend the bearer token or the API key elsewhere.
    """
    parts = urllib.parse.urlsplit(request.url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)  # load_context checked the port
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    lines = [
        f"{request.method} {path} HTTP/1.1",
        f"Host: {parts.netloc.rpartition('@')[2]}",
        "Connection: close",
        "Accept-Encoding: identity",
    ]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    body = request.body or b""
    if request.body is not None or request.method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines)
    # CR or LF in a value would split the request; a request head is ASCII (URLs are quoted).
    if not (head.isascii() and all(line.isprintable() for line in lines)):
        raise DeliveryError(
            f"{request.method} request: its head has a non-ASCII or control character"
        )
    message = (head + "\r\n\r\n").encode("ascii") + body
    try:
        with socket.create_connection((host, port), timeout=REQUEST_TIMEOUT_SECONDS) as raw:
            if https:
                import ssl  # only here: 10 ms of imports a plain-HTTP run does not need

                with ssl.create_default_context().wrap_socket(raw, server_hostname=host) as tls:
                    response = _send_and_read(tls, message)
            else:
                response = _send_and_read(raw, message)
    except OSError as exc:
        raise _Transient(f"connection error ({type(exc).__name__})") from None
    return _parse_response(response)


def _send_and_read(sock: socket.socket, message: bytes) -> bytes:
    sock.sendall(message)
    chunks, size = [], 0
    while chunk := sock.recv(65536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _Transient(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_response(response: bytes) -> tuple[int, bytes]:
    """(status, body) of a whole HTTP/1.x response; a malformed one is :class:`_Transient`."""
    if not response:
        raise _Transient("connection error (closed without a response)")
    head, found, rest = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    version, _, tail = status_line.partition(b" ")
    code = tail[:3]
    if not found or not version.startswith(b"HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise _Transient("malformed HTTP response")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        return int(code), _unchunk(rest)
    length = headers.get(b"content-length")
    if length is not None:
        if not length.isdigit() or len(rest) < int(length):
            raise _Transient("incomplete HTTP response")
        rest = rest[: int(length)]
    return int(code), rest


def _unchunk(data: bytes) -> bytes:
    """The body of a chunked transfer coding (RFC 9112 §7.1); trailers are ignored."""
    body: list[bytes] = []
    at = 0
    while True:
        end = data.find(b"\r\n", at)
        size_text = data[at:end].split(b";")[0].strip() if end >= 0 else b""
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _Transient("malformed chunked HTTP response") from None
        if size == 0:
            return b"".join(body)
        start = end + 2
        if len(data) < start + size + 2:
            raise _Transient("incomplete chunked HTTP response")
        body.append(data[start : start + size])
        at = start + size + 2


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


class Provider:
    """A provider's behaviour and error codes, driven by :func:`run_job`."""

    __slots__ = (
        "name",
        "create",
        "delete",
        "unknown_action_code",
        "internal_error_code",
        "internal_error_message",
    )

    def __init__(
        self,
        *,
        name: str,
        create: Callable[[JobContext], Created],
        delete: Callable[[JobContext], str],
        unknown_action_code: str,
        internal_error_code: str,
        internal_error_message: str,
    ) -> None:
        self.name = name
        self.create = create
        self.delete = delete
        self.unknown_action_code = unknown_action_code
        self.internal_error_code = internal_error_code
        self.internal_error_message = internal_error_message

    def replace(self, **changes: Any) -> Provider:
        """A copy with some behaviour changed (e.g. another ``create``)."""
        return Provider(**{name: getattr(self, name) for name in self.__slots__} | changes)


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
