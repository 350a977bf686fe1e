"""Who may act on which object. One access helper per object type; views call it first.

Until the embedded IAM's access policies land, console permissions are Django model permissions:
any signed-in user reads metadata; managing secret groups needs the matching model permission
(superusers have them all).
"""

from __future__ import annotations

from typing import Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from secrets_app.models import SecretGroup

GroupAction = Literal["view", "add", "change", "delete"]
_GROUP_PERMS: dict[str, str] = {
    "add": "secrets_app.add_secretgroup",
    "change": "secrets_app.change_secretgroup",
    "delete": "secrets_app.delete_secretgroup",
}


def can_manage_groups(user: AbstractBaseUser | AnonymousUser, action: GroupAction) -> bool:
    if action == "view":
        return user.is_authenticated
    return user.is_authenticated and user.has_perm(_GROUP_PERMS[action])


def require_group_permission(user: AbstractBaseUser | AnonymousUser, action: GroupAction) -> None:
    if not can_manage_groups(user, action):
        raise PermissionDenied(f"You do not have permission to {action} secret groups.")


def get_group_for_user(
    user: AbstractBaseUser | AnonymousUser, group_id: str, *, action: GroupAction = "view"
) -> SecretGroup:
    try:
        group = SecretGroup.objects.get(pk=group_id)
    except SecretGroup.DoesNotExist:
        raise Http404("No such secret group.") from None
    require_group_permission(user, action)
    return group
