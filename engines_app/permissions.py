"""Who may see and change the secrets engines, and the access helper for a configuration.

Looking needs a role (Reader or more) on a secret group or on the instance; changing an engine
needs the Manager role on the instance.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from engines_app.models import ConfigType, Configuration
from engines_app.providers.access import require_configuration_read
from engines_app.providers.iam import get_iam


def can_manage_engines(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    iam = get_iam()
    return iam.is_allowed(
        iam.principal_for_user(user), "configuration.manage", secret_group_id=None
    )


def require_engines_manager(user: AbstractBaseUser | AnonymousUser) -> None:
    if not can_manage_engines(user):
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
