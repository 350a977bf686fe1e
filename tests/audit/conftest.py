"""Fixtures of the audit tests: an auditor (Manager on the instance), API callers with one role,
and the worlds the lifecycle tests use (the IAM engine, authorized service instances, a custom
credentials configuration whose job runs are recorded)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceId
from tests.factories import create_user, grant
from tests.lifecycle.conftest import (  # noqa: F401  (fixtures, used by name)
    code_engine,
    custom_world,
    group,
    iam_engine,
    instances,
)

SETUP = Actor(iam_id="IBMid-0000000998", name="audit-test-setup", system=True)
_seq = itertools.count(1)


@pytest.fixture
def auditor(db) -> User:
    """A Manager of the whole instance: the Audit page is theirs."""
    user = create_user(username="auditor")
    grant(user, "Manager")
    return user


@pytest.fixture
def auditor_client(auditor) -> Client:
    client = Client()
    client.force_login(auditor)
    return client


def bearer_headers(service_id: ServiceId, **extra: str) -> dict[str, str]:
    """The headers of an API call as this service ID, its token from POST /identity/token."""
    _, key = iam.api_key_create(actor=SETUP, name="audit-test", service_id=service_id)
    token = (
        Client()
        .post(
            "/identity/token",
            {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": key},
        )
        .json()["access_token"]
    )
    return {"Authorization": f"Bearer {token}", **extra}


ApiAs = Callable[..., tuple[dict[str, str], ServiceId]]


@pytest.fixture
def api_as(db) -> ApiAs:
    """api_as(role, group=None): bearer headers of a new service ID holding `role` there
    (instance-wide when `group` is None; no role at all when `role` is None)."""

    def make(role: str | None, group_id: str | None = None) -> tuple[dict[str, str], ServiceId]:
        sid = iam.service_id_create(actor=SETUP, name=f"audit-api-{role or 'none'}-{next(_seq)}")
        if role is not None:
            iam.policy_grant(actor=SETUP, role=role, secret_group_id=group_id, service_id=sid)
        return bearer_headers(sid), sid

    return make
