"""Who may act on which object, for console users. One access helper per object type.

Console users go through the same IAM policies as API callers: a user's roles come from
access policies on their IAM identity (superusers hold Manager everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404

from console.audit import INSTANCE, AuditSubject, audit_denied
from console.errors import NotFoundError
from console.identity import Actor, actor_for_user
from engines_app.models import ConfigurationTest
from engines_app.permissions import can_manage_engines
from engines_app.providers.iam import AccessGroupInfo, Principal, ServiceIdInfo, get_iam
from secrets_app.models import Secret, SecretGroup, SecretType, SecretVersion

GroupAction = Literal["view", "add", "change", "delete"]


# Refusals are recorded where they are decided (console.audit.audit_denied). An object outside the
# caller's scope is answered 404, as if it did not exist; the audit log still records the attempt.
OUT_OF_SCOPE = {"reason": "outside the caller's scope (answered as not found)"}


def _refused(
    who: AbstractBaseUser | AnonymousUser | Principal,
    action: str,
    subject: AuditSubject,
    detail: dict[str, str] | None = None,
) -> None:
    actor: Actor | None
    if isinstance(who, Principal):
        actor = who.actor
    else:
        actor = actor_for_user(who) if who.is_authenticated else None
    audit_denied(actor=actor, action=action, subject=subject, detail=detail)


def _secret_subject(secret: Secret) -> AuditSubject:
    return AuditSubject("secret", str(secret.pk), secret.name)


def _group_subject(group: SecretGroup) -> AuditSubject:
    return AuditSubject("secret_group", str(group.pk), group.name)


def principal_of(user: AbstractBaseUser | AnonymousUser) -> Principal:
    if not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return get_iam().principal_for_user(user)


def can_manage_groups(user: AbstractBaseUser | AnonymousUser, action: GroupAction) -> bool:
    if not user.is_authenticated:
        return False
    if action == "view":
        return True
    return get_iam().is_allowed(principal_of(user), "secret_group.manage", secret_group_id=None)


def require_group_permission(
    user: AbstractBaseUser | AnonymousUser,
    action: GroupAction,
    *,
    group: SecretGroup | None = None,
) -> None:
    if not can_manage_groups(user, action):
        subject = _group_subject(group) if group is not None else INSTANCE
        _refused(user, "secret_group.manage", subject, {"verb": action})
        raise PermissionDenied(
            f"You need the Manager role on this instance to {action} secret groups."
        )


def get_group_for_user(
    user: AbstractBaseUser | AnonymousUser, group_id: str, *, action: GroupAction = "view"
) -> SecretGroup:
    """A group the user may read; 404 outside their scope, so the answer tells nothing about it."""
    try:
        group = SecretGroup.objects.get(pk=group_id)
    except SecretGroup.DoesNotExist:
        raise Http404("No such secret group.") from None
    if not get_iam().is_allowed(principal_of(user), "secret_group.read", secret_group_id=group.pk):
        _refused(user, "secret_group.read", _group_subject(group), OUT_OF_SCOPE)
        raise Http404("No such secret group.")
    require_group_permission(user, action, group=group)
    return group


def readable_groups(user: AbstractBaseUser | AnonymousUser) -> QuerySet[SecretGroup]:
    """Groups the user may see on the groups page (Reader or more there, or instance-wide)."""
    ids = get_iam().group_ids_allowing(principal_of(user), "secret_group.read")
    groups = SecretGroup.objects.order_by("name")
    return groups if ids is None else groups.filter(pk__in=ids)


def writable_groups(user: AbstractBaseUser | AnonymousUser) -> QuerySet[SecretGroup]:
    """Groups the user may create secrets in (Writer or Manager there, or instance-wide)."""
    ids = get_iam().group_ids_allowing(principal_of(user), "secret.create")
    groups = SecretGroup.objects.order_by("name")
    return groups if ids is None else groups.filter(pk__in=ids)


def readable_group_ids(user: AbstractBaseUser | AnonymousUser) -> set[str] | None:
    """Groups whose secrets' metadata the user may read (Reader or more); None means all."""
    return get_iam().group_ids_allowing(principal_of(user), "secret.metadata.read")


def can_read_secret(user: AbstractBaseUser | AnonymousUser, secret: Secret) -> bool:
    """Whether the user may see that this secret exists: its name, link and metadata."""
    return get_iam().is_allowed(
        principal_of(user), "secret.metadata.read", secret_group_id=secret.secret_group_id
    )


def visible_resource_key_crns(
    user: AbstractBaseUser | AnonymousUser, crns: Iterable[str]
) -> set[str] | None:
    """Which of these resource keys the user may see; None means all of them.

    A Reader on the whole instance sees every key. Anyone else sees the keys that service
    credentials secrets in their readable groups hold (a version records its key's CRN), in one
    query whatever the number of keys.
    """
    readable = readable_group_ids(user)
    if readable is None:
        return None
    return set(
        SecretVersion.objects.filter(
            secret__secret_type=SecretType.SERVICE_CREDENTIALS,
            secret__secret_group_id__in=readable,
            credentials_id__in=list(crns),
        ).values_list("credentials_id", flat=True)
    )


def delegable_service_ids(
    user: AbstractBaseUser | AnonymousUser, service_ids: Iterable[ServiceIdInfo]
) -> list[ServiceIdInfo]:
    """The service IDs whose roles the user holds too, so a key for them hands nothing over."""
    principal, iam = principal_of(user), get_iam()
    return [s for s in service_ids if not iam.roles_not_held(principal, service_id=s.id)]


def delegable_access_groups(
    user: AbstractBaseUser | AnonymousUser, groups: Iterable[AccessGroupInfo]
) -> list[AccessGroupInfo]:
    """Access groups whose roles the user holds too (a new service ID may join them)."""
    principal, iam = principal_of(user), get_iam()
    return [g for g in groups if not iam.roles_not_held(principal, access_group_ids=[g.id])]


def require_some_writable_group(user: AbstractBaseUser | AnonymousUser) -> None:
    """Adding a secret (its type tiles' Next, every step of an add-secret wizard) needs the
    Writer role on at least one secret group; which one is checked again when it is chosen."""
    if not writable_groups(user).exists():
        _refused(user, "secret.create", INSTANCE)
        raise PermissionDenied("You need the Writer role on a secret group to add secrets to it.")


def require_secret_create(user: AbstractBaseUser | AnonymousUser, group_id: str) -> None:
    if not get_iam().is_allowed(principal_of(user), "secret.create", secret_group_id=group_id):
        _refused(user, "secret.create", AuditSubject("secret_group", group_id))
        raise PermissionDenied(
            "You need the Writer role on this secret group to add secrets to it."
        )


def get_secret_for_user(user: AbstractBaseUser | AnonymousUser, secret_id: str) -> Secret:
    """A secret whose metadata the user may read (Reader or more on its group)."""
    secret = (
        Secret.objects.select_related("secret_group", "configuration")
        .filter(pk=secret_id, probe=False)
        .first()
    )
    if secret is None:
        raise Http404("No such secret.")
    if not get_iam().is_allowed(
        principal_of(user), "secret.metadata.read", secret_group_id=secret.secret_group_id
    ):
        _refused(user, "secret.metadata.read", _secret_subject(secret), OUT_OF_SCOPE)
        raise Http404("No such secret.")
    return secret


# What each action on a secret needs (the role named in a refusal) and the IAM action checked.
SecretAction = Literal["reveal", "rotate", "edit", "delete", "lock"]
SECRET_ACTIONS: dict[str, tuple[str, str, str]] = {
    "reveal": ("secret.read", "SecretsReader", "reveal its value"),
    "rotate": ("secret.rotate", "Writer", "rotate it"),
    "edit": ("secret.update", "Writer", "edit it"),
    "delete": ("secret.delete", "Manager", "delete it"),
    "lock": ("secret_lock.manage", "Manager", "add or remove its locks"),
}


def secret_permissions(user: AbstractBaseUser | AnonymousUser, secret: Secret) -> dict[str, bool]:
    """Which of the actions on this secret the user may take: the buttons a page shows."""
    principal, iam = principal_of(user), get_iam()
    return {
        name: iam.is_allowed(principal, action, secret_group_id=secret.secret_group_id)
        for name, (action, _, _) in SECRET_ACTIONS.items()
    }


def get_secret_for_action(
    user: AbstractBaseUser | AnonymousUser, secret_id: str, action: SecretAction
) -> Secret:
    """A secret the user may read (404 otherwise) and act on (403 otherwise, naming the role)."""
    secret = get_secret_for_user(user, secret_id)
    iam_action, role, what = SECRET_ACTIONS[action]
    if not get_iam().is_allowed(
        principal_of(user), iam_action, secret_group_id=secret.secret_group_id
    ):
        _refused(user, iam_action, _secret_subject(secret), {"needed_role": role})
        raise PermissionDenied(
            f"You need the {role} role on secret group {secret.secret_group.name} to {what}."
        )
    return secret


def _may_view_test(user: AbstractBaseUser | AnonymousUser, test: ConfigurationTest) -> bool:
    principal = principal_of(user)
    if test.created_by == principal.iam_id or can_manage_engines(user):
        return True
    return test.probe is not None and get_iam().is_allowed(
        principal, "secret_task.read", secret_group_id=test.probe.secret_group_id
    )


def get_configuration_test_for_user(
    user: AbstractBaseUser | AnonymousUser, test_id: UUID
) -> ConfigurationTest:
    """A Test configuration run, for who started it, an engines Manager, or who may read the
    probe's task; 404 for anyone else, so strangers learn nothing about which tests exist."""
    test = (
        ConfigurationTest.objects.select_related("configuration", "probe__secret_group")
        .filter(pk=test_id)
        .first()
    )
    if test is None or not _may_view_test(user, test):
        raise Http404("No such configuration test.")
    return test


def writable_group_choice(
    group_id: str,
    groups: Iterable[SecretGroup],
    *,
    user: AbstractBaseUser | AnonymousUser,
    purpose: str,
) -> str:
    """A group a form offered as writable: the chosen id, if it is among `groups`.

    A group the user may see (a weaker role there) that was forged into the form: 403, naming
    `purpose` (e.g. "to add secrets to it"). A group outside their scope answers as one that
    does not exist, a field error, so the form tells nobody which groups exist.
    """
    if group_id in {g.pk for g in groups}:
        return group_id
    readable = readable_group_ids(user)
    if SecretGroup.objects.filter(pk=group_id).exists() and (
        readable is None or group_id in readable
    ):
        raise PermissionDenied(f"You need the Writer role on this secret group {purpose}.")
    raise ValidationError("That secret group no longer exists; pick another one.")


# --- API callers: a bearer token's principal rather than a console user -------------------------

# A caller "sees" an object when they hold any role on its secret group: metadata reading
# (Reader and up) or task reporting (the credentials provider job's SecretTaskUpdater).
_SCOPE_ACTIONS = frozenset({"secret.metadata.read", "secret_task.update"})


def authorize_in_scope(
    principal: Principal,
    action: str,
    *,
    secret_group_id: str,
    subject: AuditSubject,
    missing: NotFoundError,
    instance_wide: bool = False,
) -> None:
    """Raise `missing` (a 404) when the caller holds no role on the group (see _SCOPE_ACTIONS),
    so its objects answer as if they did not exist; an AccessDeniedError (403, naming the role)
    when the role there is too weak for `action` (or, `instance_wide`, the instance-wide role).
    Both refusals are audited, and for the group's own action the caller's roles are looked up
    once for both decisions (two lookups fewer on every API call, issue 13)."""
    iam = get_iam()
    allowed = iam.allowed_actions(principal, secret_group_id=secret_group_id)
    if not allowed & _SCOPE_ACTIONS:
        _refused(principal, action, subject, OUT_OF_SCOPE)
        raise missing
    if instance_wide:
        iam.authorize(principal, action, secret_group_id=None, subject=subject)
    else:
        iam.authorize(
            principal, action, secret_group_id=secret_group_id, subject=subject, allowed=allowed
        )


def get_secret_for_principal(principal: Principal, secret_id: str | UUID, action: str) -> Secret:
    """The secret, if the caller may take the IAM action on it.

    404 (NotFoundError) when it does not exist or lies outside the caller's scope, so the answer
    tells a stranger nothing; 403 (AccessDeniedError, naming the role) when the caller sees it
    but holds too weak a role.
    """
    try:
        secret = (
            Secret.objects.select_related("secret_group", "configuration")
            .filter(pk=secret_id, probe=False)
            .first()
        )
    except (ValidationError, ValueError):
        secret = None
    missing = NotFoundError(f"Secret {secret_id} does not exist.")
    if secret is None:
        raise missing
    authorize_in_scope(
        principal,
        action,
        secret_group_id=secret.secret_group_id,
        subject=_secret_subject(secret),
        missing=missing,
    )
    return secret


def get_group_for_principal(principal: Principal, group_id: str, action: str) -> SecretGroup:
    """The secret group, with the same 404/403 rule as get_secret_for_principal.

    Managing groups (`secret_group.manage`) is an instance-wide Manager action, as in the
    console; reading one needs a role on it.
    """
    group = SecretGroup.objects.filter(pk=group_id).first()
    missing = NotFoundError(f"Secret group {group_id} does not exist.", field="id")
    if group is None:
        raise missing
    authorize_in_scope(
        principal,
        action,
        secret_group_id=group.pk,
        subject=_group_subject(group),
        missing=missing,
        instance_wide=action == "secret_group.manage",
    )
    return group
