"""/api/v2 secret task endpoints (sm-api.md §2.4). JSON in, one service call, JSON out."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods

from console.api import ApiRequest, api_endpoint, parse_json_object, timestamp
from secrets_app.models import SecretTask
from secrets_app.services import custom_credentials as cc


def task_json(task: SecretTask) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.pk,
        "created_by": task.created_by,
        "creation_date": timestamp(task.creation_date),
        "last_update_date": timestamp(task.last_update_date),
        "updated_by": task.updated_by,
        "type": task.type,
        "status": task.status,
        "trigger": task.trigger,
        "secret_id": str(task.secret_id),
    }
    if task.secret_version_ref:
        body["secret_version_id"] = str(task.secret_version_ref)
    if task.errors:
        body["errors"] = task.errors
    return body


@api_endpoint
@require_GET
def task_list(request: ApiRequest, secret_id: str) -> JsonResponse:
    tasks = cc.secret_tasks_for(principal=request.principal, secret_id=secret_id)
    return JsonResponse({"tasks": [task_json(t) for t in tasks]})


@api_endpoint
@require_http_methods(["GET", "PUT", "DELETE"])
def task_detail(request: ApiRequest, secret_id: str, task_id: str) -> HttpResponse:
    if request.method == "PUT":
        task = cc.secret_task_report(
            principal=request.principal,
            secret_id=secret_id,
            task_id=task_id,
            body=parse_json_object(request),
        )
        return JsonResponse(task_json(task))
    if request.method == "DELETE":
        cc.secret_task_cancel(principal=request.principal, secret_id=secret_id, task_id=task_id)
        return HttpResponse(status=204)
    return JsonResponse(
        task_json(
            cc.secret_task_for(principal=request.principal, secret_id=secret_id, task_id=task_id)
        )
    )
