"""Embedded IAM services: identities, API keys and policies (tokens: tokens.py; service-to-service
authorizations: authorizations.py, re-exported here; revoking a policy: policies.py).

API key values are returned once, from `api_key_create`, and stored only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet

from console.audit import INSTANCE, AuditSubject, audit_denied, audit_record
from console.errors import AccessDeniedError, NotFoundError
from console.identity import Actor, iam_id_for_user
from engines_app.providers.embedded.iam.authorizations import (
    authorization_create as authorization_create,
)
from engines_app.providers.embedded.iam.authorizations import (
    authorization_ensure as authorization_ensure,
)
from engines_app.providers.embedded.iam.authorizations import (
    authorization_exists as authorization_exists,
)
from engines_app.providers.embedded.iam.models import (
    AccessGroup,
    AccessPolicy,
    Account,
    ApiKey,
    IamUser,
    Role,
    ServiceId,
)
from engines_app.providers.iam import Principal

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# What each role allows. Roles nest: Manager ⊇ Writer ⊇ SecretsReader ⊇ Reader.
_READER = frozenset(
    {"secret.metadata.read", "secret_group.read", "secret_task.read", "configuration.read"}
)
_SECRETS_READER = _READER | {"secret.read"}
_WRITER = _SECRETS_READER | {
    "secret.create",
    "secret.update",
    "secret.rotate",
    "secret_task.delete",
}
_MANAGER = _WRITER | {
    "secret.delete",
    # Creating and deleting secret locks: IBM's secret-locks docs ask for the Manager role.
    "secret_lock.manage",
    "secret_group.manage",
    "secret_task.update",
    "configuration.manage",
    # The embedded cloud's own consoles: identities and keys, Code Engine projects, jobs and runs.
    "iam.manage",
    "code_engine.manage",
    # The Audit page and its exports: who read which value, and every refused attempt.
    "audit.read",
}
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.READER: _READER,
    Role.SECRETS_READER: _SECRETS_READER,
    Role.WRITER: _WRITER,
    Role.MANAGER: _MANAGER,
    # The credentials provider job's role: report task results, nothing else.
    Role.SECRET_TASK_UPDATER: frozenset({"secret_task.update"}),
}


# ---------------------------------------------------------------------------------------------
# Identities


def account_default() -> Account:
    account, _ = Account.objects.get_or_create(
        pk=settings.SM_ACCOUNT_ID, defaults={"name": "Embedded account"}
    )
    return account


def iam_user_for(user: AbstractBaseUser) -> IamUser:
    iam_id = iam_id_for_user(int(user.pk))
    # IamUser.user points at AUTH_USER_MODEL, the class of every console user passed here.
    auth_user = cast("User", user)
    # Looked up first: get_or_create's defaults (the account, a query) were computed on every
    # page, for a row that exists (issue 13's profile).
    if (existing := IamUser.objects.filter(iam_id=iam_id).first()) is not None:
        return existing
    iam_user, _ = IamUser.objects.get_or_create(
        iam_id=iam_id, defaults={"user": auth_user, "account": account_default()}
    )
    return iam_user


@transaction.atomic
def service_id_create(
    *, actor: Actor, name: str, description: str = "", managed: bool = False
) -> ServiceId:
    name = (name or "").strip()
    if not 1 <= len(name) <= 128:
        raise ValidationError({"name": "A service ID name is 1 to 128 characters long."})
    service_id = ServiceId.objects.create(
        name=name,
        description=description,
        account=account_default(),
        managed_by_secrets_manager=managed,
        created_by=actor.iam_id,
    )
    audit_record(
        actor=actor,
        action="iam.service_id.create",
        object_type="service_id",
        object_id=service_id.pk,
        object_name=name,
    )
    return service_id


def service_id_get(service_id: str) -> ServiceId:
    try:
        return ServiceId.objects.get(pk=service_id)
    except ServiceId.DoesNotExist:
        raise NotFoundError(
            f"Service ID {service_id} does not exist.", field="service_id"
        ) from None


@transaction.atomic
def service_id_delete(*, actor: Actor, service_id: str) -> None:
    sid = service_id_get(service_id)
    audit_record(
        actor=actor,
        action="iam.service_id.delete",
        object_type="service_id",
        object_id=sid.pk,
        object_name=sid.name,
    )
    sid.delete()


@transaction.atomic
def access_group_create(
    *,
    actor: Actor,
    name: str,
    description: str = "",
    service_ids: Iterable[ServiceId] = (),
    users: Iterable[IamUser] = (),
) -> AccessGroup:
    if AccessGroup.objects.filter(name=name).exists():
        raise ValidationError({"name": f"An access group named {name!r} already exists."})
    group = AccessGroup.objects.create(
        name=name, description=description, account=account_default()
    )
    group.service_ids.add(*service_ids)
    group.users.add(*users)
    audit_record(
        actor=actor,
        action="iam.access_group.create",
        object_type="access_group",
        object_id=group.pk,
        object_name=name,
    )
    return group


@transaction.atomic
def access_group_add_member(*, actor: Actor, access_group_id: str, service_id: ServiceId) -> None:
    group = AccessGroup.objects.get(pk=access_group_id)
    # A member gets the group's roles: only someone who holds them may hand them out.
    require_delegable(
        actor,
        what=f"add a service ID to access group {group.name}",
        access_group_ids=[group.pk],
    )
    group.service_ids.add(service_id)
    audit_record(
        actor=actor,
        action="iam.access_group.add_member",
        object_type="access_group",
        object_id=group.pk,
        object_name=group.name,
        detail={"service_id": service_id.pk},
    )


# ---------------------------------------------------------------------------------------------
# API keys


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _acts_for_user(actor: Actor, user: IamUser) -> bool:
    """Whether the actor may manage a user's keys: the user, a superuser, or the system."""
    return actor.iam_id == user.iam_id or principal_for_actor(actor).is_superuser


@transaction.atomic
def api_key_create(
    *,
    actor: Actor,
    name: str,
    description: str = "",
    service_id: ServiceId | None = None,
    user: IamUser | None = None,
) -> tuple[ApiKey, str]:
    """Create an API key for a service ID or a user. Returns the key and its value (shown once)."""
    if (service_id is None) == (user is None):
        raise ValidationError("An API key belongs to exactly one service ID or user.")
    if service_id is not None and service_id.locked:
        raise ValidationError({"service_id": f"Service ID {service_id.name} is locked."})
    if service_id is not None:
        require_delegable(
            actor, what=f"create an API key for service ID {service_id.name}", service_id=service_id
        )
    if user is not None and not _acts_for_user(actor, user):
        audit_denied(
            actor=actor,
            action="iam.api_key.create",
            subject=AuditSubject("user", user.iam_id, user.user.get_username()),
        )
        raise AccessDeniedError("Only the user themselves can create an API key for a user.")
    value = secrets.token_urlsafe(33)  # 44 characters, base64url alphabet
    key = ApiKey.objects.create(
        name=name,
        description=description,
        account=account_default(),
        service_id=service_id,
        user=user,
        key_sha256=_digest(value),
        created_by=actor.iam_id,
    )
    audit_record(
        actor=actor,
        action="iam.api_key.create",
        object_type="api_key",
        object_id=key.pk,
        object_name=name,
        detail={"owner": key.owner_iam_id},
    )
    return key, value


def _refuse_if_protected(actor: Actor, key: ApiKey, verb: str) -> None:
    if key.protected and not actor.system:
        audit_denied(
            actor=actor,
            action=f"iam.api_key.{verb}",
            subject=AuditSubject("api_key", key.pk, key.name),
            detail={"reason": "managed by Secrets Manager"},
        )
        raise AccessDeniedError(
            f"API key {key.name} is managed by Secrets Manager: it cannot be {verb}ed by hand. "
            "Rotate or delete its secret instead."
            if verb != "delete"
            else f"API key {key.name} is managed by Secrets Manager: it cannot be deleted by "
            "hand. Delete its secret, or let its lease end."
        )


def api_key_protect(*, actor: Actor, api_key_id: str) -> None:
    """IBM's lock of a key Secrets Manager issued: it keeps working, and only Secrets Manager
    may change or delete it (`_refuse_if_protected`)."""
    if ApiKey.objects.filter(pk=api_key_id, protected=False).update(protected=True):
        audit_record(
            actor=actor, action="iam.api_key.protect", object_type="api_key", object_id=api_key_id
        )


@transaction.atomic
def api_key_set_locked(*, actor: Actor, api_key_id: str, locked: bool) -> ApiKey:
    key = ApiKey.objects.select_related("service_id", "user").filter(pk=api_key_id).first()
    if key is None:
        raise NotFoundError(f"API key {api_key_id} does not exist.")
    verb = "lock" if locked else "unlock"
    _refuse_if_protected(actor, key, verb)
    if key.service_id is not None:
        require_delegable(
            actor,
            what=f"{verb} the API keys of service ID {key.service_id.name}",
            service_id=key.service_id,
        )
    elif key.user is not None and not _acts_for_user(actor, key.user):
        audit_denied(
            actor=actor,
            action=f"iam.api_key.{verb}",
            subject=AuditSubject("api_key", key.pk, key.name),
        )
        raise AccessDeniedError(f"Only the user themselves can {verb} a user's API key.")
    ApiKey.objects.filter(pk=api_key_id).update(locked=locked)
    audit_record(
        actor=actor,
        action="iam.api_key.lock" if locked else "iam.api_key.unlock",
        object_type="api_key",
        object_id=api_key_id,
    )
    return ApiKey.objects.get(pk=api_key_id)


@transaction.atomic
def api_key_delete(*, actor: Actor, api_key_id: str) -> None:
    key = ApiKey.objects.filter(pk=api_key_id).first()
    if key is not None:
        _refuse_if_protected(actor, key, "delete")
    deleted, _ = ApiKey.objects.filter(pk=api_key_id).delete()
    if deleted:
        audit_record(
            actor=actor, action="iam.api_key.delete", object_type="api_key", object_id=api_key_id
        )


def principal_for_actor(actor: Actor) -> Principal:
    """The principal behind an actor, for checks in services that are handed only the actor.

    An actor this IAM does not know (no user, no service ID) holds no role at all.
    """
    if actor.system:
        return Principal(iam_id=actor.iam_id, name=actor.name, kind="system", is_superuser=True)
    if actor.iam_id.startswith("iam-ServiceId-"):
        return Principal(iam_id=actor.iam_id, name=actor.name, kind="service_id")
    iam_user = IamUser.objects.select_related("user").filter(pk=actor.iam_id).first()
    active = iam_user is not None and iam_user.user.is_active
    return Principal(
        iam_id=actor.iam_id,
        name=actor.name,
        kind="user",
        is_superuser=bool(active and iam_user is not None and iam_user.user.is_superuser),
    )


def principal_for_user(user: AbstractBaseUser) -> Principal:
    """The principal of a signed-in console user, without a query: a user's IAM id follows from
    its primary key, and its IamUser row is made with the user (signals.make_iam_user, and
    migration 0003 for the users before it). Looking the row up on every page cost a query,
    0.3 ms a page on SQLite and 0.45 on PostgreSQL (issue 13's profile)."""
    return Principal(
        iam_id=iam_id_for_user(int(user.pk)),
        name=user.get_username(),
        kind="user",
        is_superuser=bool(getattr(user, "is_superuser", False)),
    )


# ---------------------------------------------------------------------------------------------
# Policies


def secret_groups() -> QuerySet[Model]:
    """Secret groups, through the policies' link to them (this layer does not import secrets_app)."""
    group_model = cast("type[Model]", AccessPolicy._meta.get_field("secret_group").related_model)
    return group_model._default_manager.all()


def scope_label(secret_group_id: str | None) -> str:
    """How refusals and audit rows name a policy's scope: a secret group (by name) or the instance."""
    if secret_group_id is None:
        return "the instance"
    name = secret_groups().filter(pk=secret_group_id).values_list("name", flat=True).first()
    return f"secret group {name or secret_group_id}"


def require_role_assignable(
    actor: Actor, *, role: str, secret_group_id: str | None, verb: str = "assign"
) -> None:
    """Only a Manager of a scope assigns or revokes roles there, and never a role they lack there."""
    principal = principal_for_actor(actor)
    held: set[str] = set().union(
        *(ROLE_ACTIONS[r] for r in roles_for(principal, secret_group_id=secret_group_id))
    )
    lacks_role = not ROLE_ACTIONS.get(role, frozenset()) <= held
    if lacks_role or "iam.manage" not in held:
        where = scope_label(secret_group_id)
        audit_denied(
            actor=actor,
            action=f"iam.policy.{verb}",
            subject=AuditSubject("secret_group", secret_group_id, where)
            if secret_group_id
            else INSTANCE,
            detail={"role": role, "reason": "role not held" if lacks_role else "not a Manager"},
        )
        if lacks_role:
            raise AccessDeniedError(
                f"You cannot {verb} the {role} role on {where}: you do not hold it there.",
                field="role",
            )
        raise AccessDeniedError(
            f"You cannot {verb} roles on {where}: that needs the Manager role there.",
            field="scope",
        )


@transaction.atomic
def policy_grant(
    *,
    actor: Actor,
    role: str,
    secret_group_id: str | None = None,
    user: IamUser | None = None,
    service_id: ServiceId | None = None,
    access_group: AccessGroup | None = None,
    exists_ok: bool = True,
) -> AccessPolicy:
    """Give a subject a role on a secret group (or the instance). The actor must be a Manager
    there holding that role; an existing identical policy is returned, or refused (exists_ok)."""
    if role not in Role.values:
        raise ValidationError(
            {"role": f"Unknown role {role!r}; use one of {', '.join(Role.values)}."}
        )
    if sum(x is not None for x in (user, service_id, access_group)) != 1:
        raise ValidationError(
            "A policy has exactly one subject: a user, a service ID or an access group."
        )
    if secret_group_id is not None and not secret_groups().filter(pk=secret_group_id).exists():
        raise NotFoundError(f"Secret group {secret_group_id} does not exist.", field="scope")
    require_role_assignable(actor, role=role, secret_group_id=secret_group_id)
    existing = AccessPolicy.objects.filter(
        role=role,
        secret_group_id=secret_group_id,
        user=user,
        service_id=service_id,
        access_group=access_group,
    ).first()
    if existing and not exists_ok:
        where = scope_label(secret_group_id)
        raise ValidationError({"role": f"{existing.subject_name} already holds {role} on {where}."})
    if existing:
        return existing
    policy = AccessPolicy.objects.create(
        role=role,
        secret_group_id=secret_group_id,
        user=user,
        service_id=service_id,
        access_group=access_group,
        created_by=actor.iam_id,
    )
    audit_record(
        actor=actor,
        action="iam.policy.grant",
        object_type="access_policy",
        object_id=str(policy.pk),
        object_name=str(policy),
        detail={"role": role, "secret_group_id": secret_group_id, "subject": policy.subject_label},
    )
    return policy


def roles_for(principal: Principal, *, secret_group_id: str | None) -> set[str]:
    """Roles the principal holds on a secret group (or instance-wide when None)."""
    if principal.is_superuser:
        return {Role.MANAGER}
    if principal.kind == "service_id":
        subject = Q(service_id_id=principal.iam_id.removeprefix("iam-")) | Q(
            access_group__service_ids__pk=principal.iam_id.removeprefix("iam-")
        )
    else:
        subject = Q(user_id=principal.iam_id) | Q(access_group__users__pk=principal.iam_id)
    scope = Q(secret_group__isnull=True)
    if secret_group_id is not None:
        scope |= Q(secret_group_id=secret_group_id)
    return set(
        AccessPolicy.objects.filter(subject & scope).values_list("role", flat=True).distinct()
    )


def group_ids_allowing(principal: Principal, action: str) -> set[str] | None:
    """The secret groups on which the principal may perform `action`; None means every group."""
    if principal.is_superuser:
        return None
    if principal.kind == "service_id":
        subject = Q(service_id_id=principal.iam_id.removeprefix("iam-")) | Q(
            access_group__service_ids__pk=principal.iam_id.removeprefix("iam-")
        )
    else:
        subject = Q(user_id=principal.iam_id) | Q(access_group__users__pk=principal.iam_id)
    roles = [role for role, actions in ROLE_ACTIONS.items() if action in actions]
    scopes = set(
        AccessPolicy.objects.filter(subject, role__in=roles).values_list(
            "secret_group_id", flat=True
        )
    )
    if None in scopes:
        return None
    return {str(s) for s in scopes}


def allowed_actions(principal: Principal, *, secret_group_id: str | None) -> frozenset[str]:
    """Every action the principal's roles allow on a secret group (or instance-wide): one
    lookup, for callers that decide more than one thing about the same group."""
    roles = roles_for(principal, secret_group_id=secret_group_id)
    return frozenset().union(*(ROLE_ACTIONS[role] for role in roles))


def is_allowed(principal: Principal, action: str, *, secret_group_id: str | None) -> bool:
    return action in allowed_actions(principal, secret_group_id=secret_group_id)


def authorize(
    principal: Principal,
    action: str,
    *,
    secret_group_id: str | None,
    subject: AuditSubject | None = None,
    allowed: frozenset[str] | None = None,
) -> None:
    """Raise an AccessDeniedError unless the action is allowed; a refusal is audited, naming
    `subject` (e.g. the secret) or else the secret group or the instance. `allowed` is what
    allowed_actions gave for the same principal and scope, when the caller has it already."""
    if allowed is None:
        allowed = allowed_actions(principal, secret_group_id=secret_group_id)
    if action not in allowed:
        where = f"secret group {secret_group_id}" if secret_group_id else "this instance"
        # The role with the fewest rights that allows the action is the one to ask for.
        needed = min(
            (role for role, actions in ROLE_ACTIONS.items() if action in actions),
            key=lambda role: len(ROLE_ACTIONS[role]),
        )
        audit_denied(
            actor=principal.actor,
            action=action,
            subject=subject
            or (AuditSubject("secret_group", secret_group_id) if secret_group_id else INSTANCE),
            detail={"needed_role": needed},
        )
        raise AccessDeniedError(
            f"{principal.name} is not allowed to perform {action} on {where}; "
            f"it needs the {needed} role there."
        )


def _scope_name(policy: AccessPolicy) -> str:
    return f"secret group {policy.secret_group.name}" if policy.secret_group else "the instance"


def roles_not_held(
    holder: Principal,
    *,
    service_id: ServiceId | None = None,
    access_group_ids: Iterable[str] = (),
) -> list[str]:
    """Roles of a service ID (its own policies and its access groups') that `holder` lacks.

    Whoever can mint a key for an identity, or lock its keys, can act as it or stop it; so both
    are allowed only to someone who holds every role that identity holds, on the same scope.
    The same goes for putting a new identity into access groups.
    """
    if holder.is_superuser:
        return []
    subject = Q(pk__in=[])
    if service_id is not None:
        subject |= Q(service_id=service_id) | Q(access_group__service_ids=service_id)
    if groups := list(access_group_ids):
        subject |= Q(access_group_id__in=groups)
    policies = AccessPolicy.objects.filter(subject).select_related("secret_group").distinct()
    held: dict[str | None, set[str]] = {}
    missing: list[str] = []
    for policy in policies:
        scope = policy.secret_group_id
        if scope not in held:
            held[scope] = set().union(
                *(ROLE_ACTIONS[r] for r in roles_for(holder, secret_group_id=scope))
            )
        if not ROLE_ACTIONS.get(policy.role, frozenset()) <= held[scope]:
            label = f"{policy.role} on {_scope_name(policy)}"
            if label not in missing:
                missing.append(label)
    return missing


def require_delegable(
    actor: Actor,
    *,
    what: str,
    service_id: ServiceId | None = None,
    access_group_ids: Iterable[str] = (),
) -> None:
    """Refuse `what` (e.g. "create an API key for service ID x") if it would hand over roles."""
    groups = list(access_group_ids)
    missing = roles_not_held(
        principal_for_actor(actor), service_id=service_id, access_group_ids=groups
    )
    if missing:
        audit_denied(
            actor=actor,
            action="iam.delegate",
            subject=AuditSubject("service_id", service_id.pk, service_id.name)
            if service_id is not None
            else AuditSubject("access_group", ",".join(groups)),
            detail={"what": what, "roles_not_held": missing},
        )
        raise AccessDeniedError(
            f"You cannot {what}: it holds {', '.join(missing)}, and you do not. "
            "Ask someone who holds those roles (or a Manager of the instance).",
            field="access_groups" if access_group_ids and service_id is None else "service_id",
        )
