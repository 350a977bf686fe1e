"""Factory functions. They go through the services, so test data obeys production rules."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth.models import User

from console.identity import Actor, actor_for_user
from secrets_app import services
from secrets_app.models import DEFAULT_GROUP_ID, Secret, SecretGroup

_seq = itertools.count(1)


def create_user(
    *,
    username: str | None = None,
    password: str = "correct-horse-battery",
    is_staff: bool = False,
    is_superuser: bool = False,
    manage_groups: bool = False,
) -> User:
    user = User.objects.create_user(
        username=username or f"user{next(_seq)}",
        password=password,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    if manage_groups:
        grant(user, "Manager")
    return user


def grant(user: User, role: str, *, group: SecretGroup | None = None) -> None:
    """Give a console user an IAM role, instance-wide or on one group."""
    from engines_app.providers.embedded.iam import services as iam

    iam.policy_grant(
        actor=Actor(iam_id="IBMid-0000000000", name="tests", system=True),
        role=role,
        secret_group_id=group.pk if group else None,
        user=iam.iam_user_for(user),
    )


def factory_actor() -> Actor:
    user = User.objects.filter(username="factory-actor").first() or create_user(
        username="factory-actor"
    )
    return actor_for_user(user)


def create_group(
    *, name: str | None = None, description: str = "", actor: Actor | None = None
) -> SecretGroup:
    return services.group_create(
        actor=actor or factory_actor(), name=name or f"group-{next(_seq)}", description=description
    )


def create_secret(
    *,
    name: str | None = None,
    group: SecretGroup | None = None,
    payload: str | None = None,
    labels: list[str] | None = None,
    description: str = "",
    actor: Actor | None = None,
    **overrides: Any,
) -> Secret:
    n = next(_seq)
    return services.arbitrary_secret_create(
        actor=actor or factory_actor(),
        name=name or f"secret-{n}",
        payload=payload if payload is not None else f"value-{n}",
        secret_group_id=group.pk if group else DEFAULT_GROUP_ID,
        labels=labels,
        description=description,
        **overrides,
    )
