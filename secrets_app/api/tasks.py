"""Secret tasks: /api/v2/secrets/{secret_id}/tasks (sm-api.md §2.4, §5.6)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from secrets_app.api.base import ApiRouter
from secrets_app.api.schemas import tasks as schemas
from secrets_app.api.schemas.common import errors
from secrets_app.api.serializers import task_json
from secrets_app.services import custom_credentials as cc

router = ApiRouter(tags=["Secret tasks"])


@router.get(
    "/secrets/{secret_id}/tasks",
    response={200: schemas.SecretTaskCollection, **errors(403, 404)},
    operation_id="list_secret_tasks",
    summary="List a custom credentials secret's tasks, newest first",
)
def list_secret_tasks(request: HttpRequest, secret_id: str) -> dict[str, Any]:
    tasks = cc.secret_tasks_for(principal=request.auth, secret_id=secret_id)
    return {"tasks": [task_json(t) for t in tasks]}


@router.get(
    "/secrets/{secret_id}/tasks/{id}",
    response={200: schemas.SecretTask, **errors(403, 404)},
    operation_id="get_secret_task",
    summary="Get a secret task",
)
def get_secret_task(request: HttpRequest, secret_id: str, id: str) -> dict[str, Any]:  # noqa: A002
    return task_json(cc.secret_task_for(principal=request.auth, secret_id=secret_id, task_id=id))


@router.put(
    "/secrets/{secret_id}/tasks/{id}",
    response={200: schemas.SecretTask, **errors(400, 403, 404)},
    operation_id="replace_secret_task",
    summary="Report a task's result (the credentials provider job's callback)",
)
def replace_secret_task(
    request: HttpRequest,
    secret_id: str,
    id: str,  # noqa: A002
    body: schemas.SecretTaskPrototype,
) -> dict[str, Any]:
    task = cc.secret_task_report(
        principal=request.auth,
        secret_id=secret_id,
        task_id=id,
        body=body.model_dump(exclude_none=True),
    )
    return task_json(task)


@router.delete(
    "/secrets/{secret_id}/tasks/{id}",
    response={204: None, **errors(403, 404)},
    operation_id="delete_secret_task",
    summary="Cancel a queued or processing task",
)
def delete_secret_task(request: HttpRequest, secret_id: str, id: str) -> HttpResponse:  # noqa: A002
    cc.secret_task_cancel(principal=request.auth, secret_id=secret_id, task_id=id)
    return HttpResponse(status=204)
