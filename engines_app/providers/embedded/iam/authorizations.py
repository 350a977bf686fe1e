"""Embedded IAM services: service-to-service authorizations (source service -> target service
or one of its resources, with roles), such as Secrets Manager's on a Code Engine project."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from console.audit import audit_record
from console.identity import Actor
from engines_app.providers.embedded.iam.models import ServiceAuthorization


@transaction.atomic
def authorization_create(
    *,
    actor: Actor,
    source_service: str,
    target_service: str,
    roles: list[str],
    target_resource: str = "",
    source_instance: str = "",
) -> ServiceAuthorization:
    if not roles:
        raise ValidationError({"roles": "An authorization grants at least one role."})
    auth = ServiceAuthorization.objects.create(
        source_service=source_service,
        source_instance=source_instance,
        target_service=target_service,
        target_resource=target_resource,
        roles=sorted(set(roles)),
        created_by=actor.iam_id,
    )
    audit_record(
        actor=actor,
        action="iam.authorization.create",
        object_type="authorization",
        object_id=str(auth.pk),
        object_name=str(auth),
    )
    return auth


@transaction.atomic
def authorization_ensure(
    *,
    actor: Actor,
    source_service: str,
    target_service: str,
    target_resource: str,
    roles: list[str],
) -> ServiceAuthorization:
    """The authorization covering the target (or all of its service) with every role; created
    when none does. Rows are locked while looking, so two concurrent calls create one."""
    wanted = set(roles)
    for auth in ServiceAuthorization.objects.select_for_update().filter(
        source_service=source_service,
        target_service=target_service,
        target_resource__in=["", target_resource],
    ):
        if wanted <= set(auth.roles):
            return auth
    return authorization_create(
        actor=actor,
        source_service=source_service,
        target_service=target_service,
        target_resource=target_resource,
        roles=roles,
    )


def authorization_exists(
    *, source_service: str, target_service: str, target_resource: str, roles: Iterable[str]
) -> bool:
    """Whether one authorization covers the target (or all of the target service) with every role."""
    wanted = set(roles)
    candidates = ServiceAuthorization.objects.filter(
        Q(target_resource="") | Q(target_resource=target_resource),
        source_service=source_service,
        target_service=target_service,
    ).values_list("roles", flat=True)
    return any(wanted <= set(r) for r in candidates)
