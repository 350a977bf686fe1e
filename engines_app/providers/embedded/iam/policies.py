"""Embedded IAM services: revoking an access policy (granting is `services.policy_grant`).

A revocation takes effect at once: every check (console pages, the API's bearer tokens) reads
the policies again, so the next request of the subject is refused.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from console.audit import AuditSubject, audit_denied, audit_record
from console.errors import NotFoundError, ServiceError
from console.identity import Actor
from engines_app.providers.embedded.iam.models import AccessPolicy, Role
from engines_app.providers.embedded.iam.services import require_role_assignable, scope_label


class LastManagerError(ServiceError):
    """Revoking this policy would leave the instance without a person who can manage it."""

    code = "last_manager"
    status = 409


def _managers_remain_without(policy: AccessPolicy) -> bool:
    """Whether a person still manages the whole instance once `policy` is gone: an active
    superuser, or an active user with the instance Manager role directly or through an access
    group. Service IDs do not count: none of them can give a person access back."""
    if get_user_model()._default_manager.filter(is_active=True, is_superuser=True).exists():
        return True
    others = (
        AccessPolicy.objects.filter(role=Role.MANAGER, secret_group__isnull=True)
        .exclude(pk=policy.pk)
        .filter(Q(user__user__is_active=True) | Q(access_group__users__user__is_active=True))
    )
    return others.exists()


def _is_instance_manager_policy(policy: AccessPolicy) -> bool:
    return policy.role == Role.MANAGER and policy.secret_group_id is None


@transaction.atomic
def policy_revoke(*, actor: Actor, policy_id: str) -> AccessPolicy:
    """Remove one access policy. The actor must be a Manager of its scope holding its role, and
    the instance keeps at least one person with the Manager role on it. Returns the removed
    policy (unsaved, for its description)."""
    policy = (
        AccessPolicy.objects.select_related("user__user", "service_id", "access_group")
        .filter(pk=policy_id)
        .first()
    )
    if policy is None:
        raise NotFoundError(f"Access policy {policy_id} does not exist.")
    require_role_assignable(
        actor, role=policy.role, secret_group_id=policy.secret_group_id, verb="revoke"
    )
    if _is_instance_manager_policy(policy):
        # Lock the instance's Manager policies, so two Managers revoking each other at once
        # cannot both succeed and leave nobody (PostgreSQL; SQLite serialises writers anyway).
        list(
            AccessPolicy.objects.select_for_update()
            .filter(role=Role.MANAGER, secret_group__isnull=True)
            .values_list("pk", flat=True)
        )
        if not _managers_remain_without(policy):
            audit_denied(
                actor=actor,
                action="iam.policy.revoke",
                subject=AuditSubject("access_policy", str(policy.pk), policy.subject_name),
                detail={"role": policy.role, "reason": "last instance Manager"},
            )
            raise LastManagerError(
                f"{policy.subject_name} is the last person with the Manager role on the "
                "instance: revoking it would leave nobody who can assign roles. Assign the "
                "Manager role on the instance to someone else first.",
                field="policy",
            )
    where = scope_label(policy.secret_group_id)
    detail = {
        "role": policy.role,
        "secret_group_id": policy.secret_group_id,
        "subject": policy.subject_label,
        "subject_kind": policy.subject_kind,
    }
    audit_record(
        actor=actor,
        action="iam.policy.revoke",
        object_type="access_policy",
        object_id=str(policy.pk),
        object_name=f"{policy.subject_name} {policy.role} on {where}"[:256],
        detail=detail,
    )
    AccessPolicy.objects.filter(pk=policy.pk).delete()
    return policy
