"""Personas and helpers for the Access page and re-authentication tests.

`manager` holds Manager on the whole instance through a policy (not a superuser, so the "last
Manager" rule applies to them); `group_manager` holds Manager on group A only; `reader` holds
Reader on the instance. `signed_in(user)` is a client signed in through the login form, so the
session's password stamp comes from a real sign-in; `make_stale(client)` ages it past the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from console.identity import Actor
from console.reauth import SESSION_STAMP
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessGroup, ServiceId
from secrets_app.models import SecretGroup
from tests.factories import create_group, create_user, grant

SETUP = Actor(iam_id="IBMid-0000000998", name="access-setup", system=True)
PASSWORD = "correct-horse-battery"


@pytest.fixture
def group_a(db) -> SecretGroup:
    return create_group(name="group-a")


@pytest.fixture
def group_b(db) -> SecretGroup:
    return create_group(name="group-b")


@pytest.fixture
def manager(db) -> User:
    return create_user(username="boss", manage_groups=True)


@pytest.fixture
def group_manager(group_a) -> User:
    user = create_user(username="lead-a")
    grant(user, "Manager", group=group_a)
    return user


@pytest.fixture
def reader(db) -> User:
    user = create_user(username="viewer")
    grant(user, "Reader")
    return user


@pytest.fixture
def service_id(db) -> ServiceId:
    return iam.service_id_create(actor=SETUP, name="deploy-bot")


@pytest.fixture
def access_group(db) -> AccessGroup:
    return iam.access_group_create(actor=SETUP, name="ops-team")


def login(client: Client, user: User, password: str = PASSWORD) -> Client:
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


@pytest.fixture
def signed_in(db) -> Callable[[User], Client]:
    def make(user: User) -> Client:
        return login(Client(), user)

    return make


def make_stale(client: Client) -> None:
    """Age the session's password stamp past SM_SUDO_MAX_AGE_SECONDS."""
    session = client.session
    session[SESSION_STAMP] = int(time.time()) - settings.SM_SUDO_MAX_AGE_SECONDS - 5
    session.save()


def password_at(client: Client) -> int | None:
    return client.session.get(SESSION_STAMP)
