"""Who may use the embedded cloud's own consoles (IAM, Code Engine). One helper per object type.

Both administer what every secret depends on: an API key minted for the job's service ID lets
its holder report credentials for any custom credentials secret, and a job runs code on this
host. So they need the Manager role on the instance (superusers hold it); `is_staff` alone,
which opens the read-only Django admin, is not enough.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from console.audit import INSTANCE, AuditSubject, audit_denied
from console.identity import actor_for_user
from engines_app.providers.iam import get_iam


def _allowed(user: AbstractBaseUser | AnonymousUser, action: str) -> bool:
    if not user.is_authenticated:
        return False
    iam = get_iam()
    return iam.is_allowed(iam.principal_for_user(user), action, secret_group_id=None)


def _refused(
    user: AbstractBaseUser | AnonymousUser, action: str, subject: AuditSubject = INSTANCE
) -> None:
    """Record the refusal that the caller is about to raise (console.audit)."""
    actor = actor_for_user(user) if user.is_authenticated else None
    audit_denied(actor=actor, action=action, subject=subject)


def can_manage_iam(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _allowed(user, "iam.manage")


def require_iam_manager(user: AbstractBaseUser | AnonymousUser) -> None:
    if not can_manage_iam(user):
        _refused(user, "iam.manage")
        raise PermissionDenied(
            "The IAM pages need the Manager role on this instance: they create and lock the "
            "API keys that jobs and people sign in with."
        )


def can_manage_code_engine(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _allowed(user, "code_engine.manage")


def require_code_engine_manager(user: AbstractBaseUser | AnonymousUser) -> None:
    if not can_manage_code_engine(user):
        _refused(user, "code_engine.manage")
        raise PermissionDenied(
            "The Code Engine pages need the Manager role on this instance: jobs run commands on "
            "this host, and their runs' logs belong to every custom credentials secret."
        )


def can_read_audit_log(user: AbstractBaseUser | AnonymousUser) -> bool:
    """The Audit page (console.audit_views): the Manager role on the instance. Registered with
    the kernel at start-up (EnginesAppConfig.ready), which cannot import this layer."""
    return _allowed(user, "audit.read")


def can_read_configurations(user: AbstractBaseUser | AnonymousUser) -> bool:
    """A role (Reader or more) on the instance or on at least one secret group."""
    if not user.is_authenticated:
        return False
    iam = get_iam()
    ids = iam.group_ids_allowing(iam.principal_for_user(user), "configuration.read")
    return ids is None or bool(ids)


def require_configuration_read(user: AbstractBaseUser | AnonymousUser) -> None:
    """Configurations name jobs, projects and IAM credentials secrets: not for strangers.

    A role on one group is enough, since its Writers pick a configuration for their secrets.
    """
    if not can_read_configurations(user):
        _refused(user, "configuration.read", AuditSubject("configuration", "", "configurations"))
        raise PermissionDenied(
            "You need a role (Reader or more) on a secret group or on this instance to see "
            "the secrets engines and their configurations."
        )


def require_service_instance_read(user: AbstractBaseUser | AnonymousUser) -> None:
    """Service instances (CRNs, resource keys) are configuration too: the same rule applies.

    A role on one group is enough, since its Writers pick an instance for service credentials.
    """
    if not can_read_configurations(user):
        _refused(
            user, "configuration.read", AuditSubject("service_instance", "", "service instances")
        )
        raise PermissionDenied(
            "You need a role (Reader or more) on a secret group or on this instance to see "
            "service instances."
        )


def access_scopes(user: AbstractBaseUser | AnonymousUser) -> set[str] | None:
    """The secret groups on which the user assigns and revokes roles (the Access page): those
    they hold the Manager role on. None means every group and the instance itself."""
    if not user.is_authenticated:
        return set()
    iam = get_iam()
    return iam.group_ids_allowing(iam.principal_for_user(user), "iam.manage")


def can_manage_access(user: AbstractBaseUser | AnonymousUser) -> bool:
    scopes = access_scopes(user)
    return scopes is None or bool(scopes)


def require_access_manager(user: AbstractBaseUser | AnonymousUser) -> set[str] | None:
    """The user's scopes on the Access page (see access_scopes); 403 for who manages none."""
    scopes = access_scopes(user)
    if scopes is not None and not scopes:
        raise PermissionDenied(
            "The Access page needs the Manager role on this instance or on a secret group: "
            "only a Manager assigns roles, and only where they manage."
        )
    return scopes
