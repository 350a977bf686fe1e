"""Secrets as the API shows them (sm-api.md §4.4, §4.7, §6): SecretMetadata of each type, and
the Secret, which adds the value fields.

What a secret's metadata shows beyond its own columns (locks, tasks, the current version's
non-secret facts, the configurations that reference it) is loaded for a whole page at once by
`for_api`, so a page of any size costs the same few queries. Values are never read here: they
come from the audited reveal service and are handed to `secret_json` by the view.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from console.api import timestamp
from engines_app.models import Configuration
from secrets_app.models import (
    Secret,
    SecretLock,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskStatus,
    VersionAlias,
)
from secrets_app.services.versions import Payload

EPOCH = timestamp(datetime(1970, 1, 1, tzinfo=UTC))


def _count(query: QuerySet[Any]) -> Coalesce:
    counted = query.order_by().values("secret_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def for_api(secrets: QuerySet[Secret]) -> QuerySet[Secret]:
    """The secrets with what their metadata needs, in the same query (plus one prefetch)."""
    tasks = SecretTask.objects.filter(secret_id=OuterRef("pk"))
    return (
        secrets.select_related("secret_group", "configuration")
        .annotate(
            api_locks_total=_count(SecretLock.objects.filter(secret_id=OuterRef("pk"))),
            api_task_count=_count(tasks),
            api_queued_task_count=_count(tasks.filter(status=TaskStatus.QUEUED)),
            api_processing_task_id=Subquery(
                tasks.filter(status=TaskStatus.PROCESSING)
                .order_by("creation_date")
                .values("pk")[:1]
            ),
            api_last_failed_task_id=Subquery(
                tasks.filter(status=TaskStatus.FAILED).order_by("-creation_date").values("pk")[:1]
            ),
        )
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=SecretVersion.objects.filter(alias=VersionAlias.CURRENT).only(
                    "id", "secret_id", "version_data", "credentials_id"
                ),
                to_attr="api_current",
            )
        )
    )


def referenced_by(secrets: Iterable[Secret]) -> dict[str, list[str]]:
    """Secret id → the names of the engine configurations that use it as their api_key_ref."""
    ids = [s.pk for s in secrets if s.secret_type == SecretType.IAM_CREDENTIALS]
    found: dict[str, list[str]] = defaultdict(list)
    if ids:
        rows = (
            Configuration.objects.filter(api_key_ref_id__in=ids)
            .order_by("name")
            .values_list("api_key_ref_id", "name")
        )
        for secret_id, name in rows:
            found[str(secret_id)].append(name)
    return found


def _current(secret: Secret) -> SecretVersion | None:
    current = getattr(secret, "api_current", None)
    if current is None:  # not loaded through for_api
        return secret.versions.filter(alias=VersionAlias.CURRENT).first()
    return current[0] if current else None


def _rotation(secret: Secret) -> dict[str, Any]:
    return secret.rotation or {"auto_rotate": False}


def _source_service(secret: Secret, current: SecretVersion | None) -> dict[str, Any]:
    body: dict[str, Any] = {"instance": dict(secret.source_service.get("instance") or {})}
    if role := secret.source_service.get("role"):
        body["role"] = dict(role)
    parameters = dict(secret.source_service.get("parameters") or {})
    if parameters:
        body["parameters"] = parameters
    data = current.version_data if current is not None else {}
    iam: dict[str, Any] = {}
    if role:
        iam["role"] = dict(role)
    if serviceid := data.get("serviceid_crn"):
        iam["serviceid"] = {"crn": serviceid}
    if iam:
        body["iam"] = iam
    if resource_key := data.get("resource_key"):
        body["resource_key"] = dict(resource_key)
    return body


def _type_fields(secret: Secret, current: SecretVersion | None) -> dict[str, Any]:
    kind = secret.secret_type
    if kind == SecretType.ARBITRARY:
        return {}
    body: dict[str, Any] = {
        "ttl": secret.ttl,
        "rotation": _rotation(secret),
        "next_rotation_date": timestamp(secret.next_rotation_date),
    }
    if kind == SecretType.IAM_CREDENTIALS:
        body.update(
            reuse_api_key=secret.reuse_api_key,
            service_id=secret.service_id,
            service_id_is_static=secret.service_id_is_static,
            access_groups=list(secret.access_groups) or None,
            account_id=secret.account_id or None,
            api_key_id=current.credentials_id if current is not None else None,
        )
    elif kind == SecretType.SERVICE_CREDENTIALS:
        body["source_service"] = _source_service(secret, current)
    elif kind == SecretType.CUSTOM_CREDENTIALS:
        tasks = _task_counts(secret)
        body.update(
            configuration=secret.configuration.name if secret.configuration else "",
            parameters=dict(secret.parameters),
            last_rotation_failed=secret.last_rotation_failed,
            **tasks,
        )
    return body


def _task_counts(secret: Secret) -> dict[str, Any]:
    if hasattr(secret, "api_task_count"):
        return {
            "task_count": getattr(secret, "api_task_count"),  # noqa: B009  (annotations)
            "queued_task_count": getattr(secret, "api_queued_task_count"),  # noqa: B009
            "processing_task_id": getattr(secret, "api_processing_task_id"),  # noqa: B009
            "last_failed_task_id": getattr(secret, "api_last_failed_task_id"),  # noqa: B009
        }
    tasks = SecretTask.objects.filter(secret_id=secret.pk)
    processing = tasks.filter(status=TaskStatus.PROCESSING).order_by("creation_date").first()
    failed = tasks.filter(status=TaskStatus.FAILED).order_by("-creation_date").first()
    return {
        "task_count": tasks.count(),
        "queued_task_count": tasks.filter(status=TaskStatus.QUEUED).count(),
        "processing_task_id": processing.pk if processing else None,
        "last_failed_task_id": failed.pk if failed else None,
    }


def metadata_json(secret: Secret, *, references: dict[str, list[str]]) -> dict[str, Any]:
    """SecretMetadata: every field of §4.4 and the type's own, never a value."""
    current = _current(secret)
    locks_total = getattr(secret, "api_locks_total", None)
    return {
        "id": str(secret.pk),
        "name": secret.name,
        "description": secret.description,
        "secret_type": secret.secret_type,
        "secret_group_id": secret.secret_group_id,
        "labels": list(secret.labels),
        "custom_metadata": dict(secret.custom_metadata),
        "state": secret.state,
        "state_description": secret.state_description,
        "crn": secret.crn,
        "created_by": secret.created_by,
        "created_at": timestamp(secret.created_at),
        "updated_at": timestamp(secret.updated_at),
        "retrieved_at": timestamp(secret.retrieved_at) or EPOCH,
        "downloaded": secret.downloaded,
        "locks_total": locks_total if locks_total is not None else secret.locks.count(),
        "versions_total": secret.versions_total,
        "referenced_by": references.get(str(secret.pk), []),
        "expiration_date": timestamp(secret.expiration_date),
        **_type_fields(secret, current),
    }


def secret_metadata_json(secret_id: Any) -> dict[str, Any]:
    """One secret's metadata, loaded afresh (after a write or a read changed it)."""
    secret = for_api(Secret.objects.filter(pk=secret_id)).get()
    return metadata_json(secret, references=referenced_by([secret]))


def value_fields(secret_type: str, payload: Payload | None) -> dict[str, Any]:
    """The fields a Secret adds to its metadata; `payload` is None while a custom credentials
    secret waits for its first credentials."""
    if secret_type == SecretType.ARBITRARY:
        return {"payload": payload}
    if secret_type == SecretType.CUSTOM_CREDENTIALS:
        return {"credentials_content": payload if isinstance(payload, dict) else {}}
    if secret_type == SecretType.SERVICE_CREDENTIALS:
        return {"credentials": payload if isinstance(payload, dict) else {}}
    assert isinstance(payload, dict)
    return {
        "api_key": payload.get("api_key"),
        "api_key_id": payload.get("api_key_id"),
        "service_id": payload.get("service_id"),
    }


def secret_json(secret_id: Any, payload: Payload | None) -> dict[str, Any]:
    """The Secret: its metadata (loaded after the read, which marked it downloaded) and value."""
    body = secret_metadata_json(secret_id)
    return {**body, **value_fields(body["secret_type"], payload)}
