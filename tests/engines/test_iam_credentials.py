"""IAM credentials secrets, created through the embedded IAM (sm-api.md §6.1)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from console.identity import Actor
from engines_app.models import Configuration
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from secrets_app import seed
from secrets_app.services import secret_version_payload_read
from secrets_app.services.iam_credentials import (
    EngineNotConfiguredError,
    iam_credentials_secret_create,
)
from tests.factories import factory_actor

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)


@pytest.fixture
def engine():
    return seed.seed_iam_engine(actor=ADMIN)


def test_with_an_existing_service_id(engine, client):
    sid = iam.service_id_create(actor=ADMIN, name="app")
    secret = iam_credentials_secret_create(
        actor=ADMIN, name="app-key", ttl="30m", reuse_api_key=True, service_id=sid.pk
    )
    assert secret.ttl == "1800" and secret.service_id == sid.pk and secret.service_id_is_static
    payload = secret_version_payload_read(
        actor=factory_actor(), version_id=secret.versions.get().pk
    )
    assert set(payload) == {"api_key", "api_key_id", "service_id"}
    key = ApiKey.objects.get(pk=payload["api_key_id"])
    assert key.name == "Secrets-Manager-IAM-Secret-app-key" and key.service_id_id == sid.pk
    token = client.post(
        reverse("iam-token"),
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": payload["api_key"]},
    )
    assert token.status_code == 200, "the issued key works at the embedded IAM"


def test_with_access_groups_generates_a_managed_service_id(engine):
    group = iam.access_group_create(actor=ADMIN, name="deployers")
    secret = iam_credentials_secret_create(
        actor=ADMIN, name="deploy-key", ttl="1d", access_groups=[group.pk]
    )
    sid = ServiceId.objects.get(pk=secret.service_id)
    assert sid.managed_by_secrets_manager and not secret.service_id_is_static
    assert list(sid.access_groups.values_list("pk", flat=True)) == [group.pk]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"ttl": "30s"}, "ttl", "between 1 minute and 90 days"),
        ({"ttl": ""}, "ttl", "required"),
        ({"service_id": None}, "service_id", "either one service ID or 1 to 10 access groups"),
        ({"access_groups": ["AccessGroupId-x1"]}, "service_id", "not both"),
        (
            {"service_id": "ServiceId-d898bb90-82f6-4d61-b5cc-b079b66cfa76"},
            "service_id",
            "does not exist",
        ),
        (
            {"rotation": {"auto_rotate": True, "interval": 1, "unit": "day"}},
            "rotation",
            "Reuse IAM credentials",
        ),
        ({"account_id": "b" * 32}, "account_id", "not managed by this installation"),
    ],
)
def test_errors(engine, kwargs, field, message):
    sid = iam.service_id_create(actor=ADMIN, name="app")
    args = {"actor": ADMIN, "name": "bad-key", "ttl": "1h", "service_id": sid.pk, **kwargs}
    with pytest.raises(ValidationError) as exc:
        iam_credentials_secret_create(**args)
    assert any(message in m for m in exc.value.message_dict[field]), exc.value.message_dict
    assert not ApiKey.objects.filter(name__endswith="bad-key").exists()


def test_needs_the_engine(engine):
    Configuration.objects.filter(pk=engine.pk).update(disabled=True)
    sid = iam.service_id_create(actor=ADMIN, name="app")
    with pytest.raises(EngineNotConfiguredError, match="disabled"):
        iam_credentials_secret_create(actor=ADMIN, name="needs-engine", ttl="1h", service_id=sid.pk)
