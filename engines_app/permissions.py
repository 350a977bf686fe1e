"""Who may change the secrets engines: the Manager role on the instance."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

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
