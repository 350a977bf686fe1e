"""Who is acting: the identity that services record in created_by, updated_by and the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class Actor:
    """An authenticated principal. `iam_id` is what the API reports as created_by/updated_by."""

    iam_id: str
    name: str
    user_id: int | None = None
    # Secrets Manager itself (seeding, shell commands, the job runner): it acts with every role.
    system: bool = False


def iam_id_for_user(user_id: int) -> str:
    # IBMid-style identifier, stable for the life of the account (e.g. IBMid-0000000001).
    return f"IBMid-{user_id:010d}"


def actor_for_user(user: AbstractBaseUser | AnonymousUser) -> Actor:
    if not user.is_authenticated or user.pk is None:
        raise PermissionError("an anonymous user cannot act")
    return Actor(
        iam_id=iam_id_for_user(int(user.pk)), name=user.get_username(), user_id=int(user.pk)
    )


SYSTEM = Actor(iam_id="iam-ServiceId-secrets-manager-console", name="system", system=True)
