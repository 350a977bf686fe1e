"""Secret tasks: /api/v2/secrets/{secret_id}/tasks (sm-api.md §2.4, §4.9, §5.6).

The PUT is the credentials provider job's callback. Its answer is part of the protocol: 200 with
the updated task (and a non-null `updated_by`, which IBM's Go jobs dereference); 400 for a body
that is not a valid report or a task that cannot take it (a finished task, the wrong status for
its type); 404 for an unknown task. A 400 or 404 tells the job that no retry can fix the report
(§5.6), so every such answer is recorded on the task (`no_retry`), whether ninja refused the
body before the view ran or the service refused the report: see `_refusal_ends_retries`.

Reading (in the service) and cancelling (here) use the usual access helper: 404 outside the
caller's scope. The PUT does not: a force-deleted secret's delete tasks, and the configuration test's probes, still
report, and the service checks SecretTaskUpdater on the secret's group itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from ninja import Body, Path
from ninja.decorators import decorate_view

from secrets_app.api.base import ApiRequest, ApiRouter
from secrets_app.api.schemas import tasks as schemas
from secrets_app.api.schemas.common import errors
from secrets_app.api.serializers import task_json
from secrets_app.permissions import get_secret_for_principal
from secrets_app.services import custom_credentials as cc

router = ApiRouter(tags=["Secret tasks"])

# A secret id of another shape than a UUID names no secret: 404, as an unknown one.
SecretId = Annotated[str, Path(description="The custom credentials secret's id.")]
TaskId = Annotated[
    str, Path(pattern=schemas.TASK_ID_PATTERN, description="sm-task-<uuid>: the task's id.")
]


def _refusal_ends_retries(
    run: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Wraps the PUT operation (request validation included): a 400 or 404 answer marks the
    task `no_retry` for a caller who may update it (cc.secret_task_refused)."""

    @functools.wraps(run)
    def run_and_record(request: ApiRequest, **path: Any) -> HttpResponseBase:
        response = run(request, **path)
        principal = getattr(request, "auth", None)
        if response.status_code in (400, 404) and principal is not None:
            cc.secret_task_refused(
                principal=principal,
                secret_id=str(path.get("secret_id", "")),
                task_id=str(path.get("id", "")),
            )
        return response

    return run_and_record


@router.get(
    "/secrets/{secret_id}/tasks",
    response={200: schemas.SecretTaskCollection, **errors(403, 404)},
    operation_id="list_secret_tasks",
    summary="List a custom credentials secret's tasks, newest first",
)
def list_secret_tasks(request: ApiRequest, secret_id: SecretId) -> dict[str, Any]:
    tasks = cc.secret_tasks_for(principal=request.auth, secret_id=secret_id)
    return {"tasks": [task_json(t) for t in tasks]}


@router.get(
    "/secrets/{secret_id}/tasks/{id}",
    response={200: schemas.SecretTask, **errors(400, 403, 404)},
    operation_id="get_secret_task",
    summary="Get a secret task",
)
def get_secret_task(request: ApiRequest, secret_id: SecretId, id: TaskId) -> dict[str, Any]:  # noqa: A002
    return task_json(cc.secret_task_for(principal=request.auth, secret_id=secret_id, task_id=id))


@decorate_view(_refusal_ends_retries)
@router.put(
    "/secrets/{secret_id}/tasks/{id}",
    response={200: schemas.SecretTask, **errors(400, 403, 404)},
    operation_id="replace_secret_task",
    summary="Report a task's result (the credentials provider job's callback)",
)
def replace_secret_task(
    request: ApiRequest,
    secret_id: SecretId,
    id: TaskId,  # noqa: A002
    body: Body[schemas.SecretTaskPrototype],
) -> dict[str, Any]:
    task = cc.secret_task_update(
        principal=request.auth,
        secret_id=secret_id,
        task_id=id,
        body=body.model_dump(exclude_none=True),
    )
    return task_json(task)


@router.delete(
    "/secrets/{secret_id}/tasks/{id}",
    response={204: None, **errors(400, 403, 404)},
    operation_id="delete_secret_task",
    summary="Cancel a queued or processing task",
)
def delete_secret_task(request: ApiRequest, secret_id: SecretId, id: TaskId) -> HttpResponse:  # noqa: A002
    get_secret_for_principal(request.auth, secret_id, "secret_task.delete")
    cc.secret_task_cancel(principal=request.auth, secret_id=secret_id, task_id=id)
    return HttpResponse(status=204)
