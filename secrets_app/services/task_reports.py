"""A job's report that comes again (PUT .../tasks/{id}, sm-api.md §5.6).

A job repeats a report when it never got the answer to the first one: the response was lost, or
the job's request timed out while the server waited for a database lock and the job retried
(5xx, 429 and connection errors are retried). The repeat of the report that finished the task is
answered like the first, 200 with the task, and changes nothing. Answering it 400 would tell the
job that its report was refused, and the job would undo credentials that are stored as the
secret's current version (the providers' rollbackAndExit, §5.6): credentials lost.
UNVERIFIED: IBM documents only that a finished task accepts no further updates (400); an
identical repeat of the report that finished it is not an update. A different report on a
finished task is still refused with 400.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from console.errors import ServiceError
from engines_app import schema as schemas
from secrets_app.models import SecretTask, TaskStatus
from secrets_app.services.versions import payload_open


def validate_errors(errors: Any) -> list[dict[str, str]]:
    """The errors of a `failed` report, checked and trimmed to the stored lengths."""
    if not isinstance(errors, list) or not 1 <= len(errors) <= 10:
        raise ValidationError({"errors": "A failed task reports 1 to 10 errors."})
    cleaned = []
    for item in errors:
        if (
            not isinstance(item, dict)
            or set(item) != {"code", "description"}
            or not all(isinstance(item[k], str) and item[k] for k in ("code", "description"))
        ):
            raise ValidationError(
                {"errors": 'Each error is {"code": "...", "description": "..."}.'}
            )
        cleaned.append({"code": item["code"][:256], "description": item["description"][:1024]})
    return cleaned


def repeats_final_report(task: SecretTask, body: dict[str, Any]) -> bool:
    """Whether `body` is the report that finished `task`, sent again (see the module's note).

    credentials_created: the same credentials id and payload as the version the task stored
    (compared with the stored payload, which is opened for that only: not a read, not audited);
    credentials_deleted: any repeat; failed: the same errors. Anything else is not a repeat.
    """
    status = body.get("status")
    if not task.is_terminal or task.status != status:
        return False
    if status == TaskStatus.CREDENTIALS_DELETED:
        return True
    if status == TaskStatus.FAILED:
        try:
            return validate_errors(body.get("errors")) == task.errors
        except ValidationError:
            return False
    credentials = body.get("credentials")
    version = task.secret_version
    config = task.secret.configuration
    if not isinstance(credentials, dict) or version is None or config is None:
        return False
    if credentials.get("id") != version.credentials_id:
        return False
    try:
        payload = schemas.validate_against(
            config.schema, credentials.get("payload"), kind="credential", field="credentials"
        )
        return bool(payload_open(version) == payload)
    except (ValidationError, ServiceError):  # an invalid body, or a payload no longer kept
        return False
