"""Who may see and change the secrets engines, and the access helper for a configuration.

Looking needs a role (Reader or more) on a secret group or on the instance; changing an engine
needs the Manager role on the instance.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from console.audit import INSTANCE, AuditSubject, audit_denied
from console.errors import AccessDeniedError
from console.identity import actor_for_user
from engines_app.models import ConfigType, Configuration
from engines_app.providers.access import require_configuration_read
from engines_app.providers.iam import Principal, get_iam
from engines_app.services import configuration_get


def can_manage_engines(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    iam = get_iam()
    return iam.is_allowed(
        iam.principal_for_user(user), "configuration.manage", secret_group_id=None
    )


def require_engines_manager(user: AbstractBaseUser | AnonymousUser) -> None:
    if not can_manage_engines(user):
        audit_denied(
            actor=actor_for_user(user) if user.is_authenticated else None,
            action="configuration.manage",
            subject=INSTANCE,
        )
        raise PermissionDenied(
            "You need the Manager role on this instance to change secrets engine configurations."
        )


def get_configuration_for_user(user: AbstractBaseUser | AnonymousUser, name: str) -> Configuration:
    """A configuration, for someone with a role somewhere; 403 before 404, so strangers learn
    nothing about which configurations exist."""
    require_configuration_read(user)
    return get_configuration(name)


def get_configuration(name: str) -> Configuration:
    config = (
        Configuration.objects.select_related("api_key_ref__secret_group")
        .filter(config_type=ConfigType.CUSTOM_CREDENTIALS, name=name)
        .first()
    )
    if config is None:
        raise Http404("No such custom credentials configuration.")
    return config


# --- API callers: a bearer token's principal rather than a console user -------------------------


def require_configuration_read_for_principal(principal: Principal) -> None:
    """The console's rule for API callers: a role (Reader or more) somewhere; 403 otherwise."""
    ids = get_iam().group_ids_allowing(principal, "configuration.read")
    if ids is not None and not ids:
        audit_denied(
            actor=principal.actor,
            action="configuration.read",
            subject=AuditSubject("configuration", "", "configurations"),
        )
        raise AccessDeniedError(
            f"{principal.name} needs a role (Reader or more) on a secret group or on this "
            "instance to see the secrets engine configurations."
        )


def get_configuration_for_principal(
    principal: Principal, name: str, action: str, *, config_type: str | None = None
) -> Configuration:
    """The configuration named `name` (of `config_type`, when given), for an API caller.

    Reading needs a role anywhere, changing needs the Manager role on the instance; both are
    checked before the lookup (403 before 404, as in the console). A name held by several
    config types without `config_type` raises AmbiguousConfigurationError (300).
    """
    if action == "configuration.manage":
        get_iam().authorize(principal, action, secret_group_id=None)
    else:
        require_configuration_read_for_principal(principal)
    return configuration_get(name=name, config_type=config_type)
