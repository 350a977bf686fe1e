"""The embedded IAM: API keys, the token endpoint, policies, the create_api_key command."""

from __future__ import annotations

import io

import jwt
import pytest
from django.core.management import call_command
from django.urls import reverse

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ApiKey, Role
from tests.factories import create_group, create_user

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def token_request(client, apikey, grant=GRANT):
    return client.post(
        reverse("iam-token"), {"grant_type": grant, "apikey": apikey, "response_type": "cloud_iam"}
    )


def test_api_key_value_is_shown_once_and_stored_as_a_hash(client):
    sid = iam.service_id_create(actor=ADMIN, name="job")
    key, value = iam.api_key_create(actor=ADMIN, name="k", service_id=sid)
    assert len(value) == 44 and key.pk.startswith("ApiKey-")
    assert value not in str(ApiKey.objects.filter(pk=key.pk).values().get())


def test_token_endpoint_answers_like_iam(client):
    sid = iam.service_id_create(actor=ADMIN, name="job")
    _, value = iam.api_key_create(actor=ADMIN, name="k", service_id=sid)
    response = token_request(client, value)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"access_token", "refresh_token", "token_type", "expires_in", "expiration"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iam_id"] == sid.iam_id and claims["exp"] - claims["iat"] == 3600
    assert claims["exp"] == body["expiration"]


@pytest.mark.parametrize("case", ["unknown", "locked_key", "locked_service_id", "empty"])
def test_bad_keys_get_one_indistinguishable_400(client, case):
    sid = iam.service_id_create(actor=ADMIN, name="job")
    key, value = iam.api_key_create(actor=ADMIN, name="k", service_id=sid)
    if case == "unknown":
        value = value[:-4] + "AAAA"
    elif case == "locked_key":
        iam.api_key_set_locked(actor=ADMIN, api_key_id=key.pk, locked=True)
    elif case == "locked_service_id":
        sid.locked = True
        sid.save()
    else:
        value = ""
    response = token_request(client, value)
    assert response.status_code == 400
    body = response.json()
    assert body["errorMessage"] == "Provided API key could not be found."
    assert body["errors"][0]["message"] == "Provided API key could not be found."


def test_wrong_grant_type_is_400(client):
    assert token_request(client, "x", grant="password").status_code == 400


def test_policies_nest_roles_and_scope_to_groups():
    group, other = create_group(name="scoped"), create_group(name="elsewhere")
    sid = iam.service_id_create(actor=ADMIN, name="job")
    iam.policy_grant(
        actor=ADMIN, role=Role.SECRET_TASK_UPDATER, secret_group_id=group.pk, service_id=sid
    )
    principal = iam.Principal(iam_id=sid.iam_id, name="job", kind="service_id")
    assert iam.is_allowed(principal, "secret_task.update", secret_group_id=group.pk)
    assert not iam.is_allowed(principal, "secret_task.update", secret_group_id=other.pk)
    assert not iam.is_allowed(principal, "secret.read", secret_group_id=group.pk)
    ag = iam.access_group_create(actor=ADMIN, name="readers", service_ids=[sid])
    iam.policy_grant(actor=ADMIN, role=Role.WRITER, access_group=ag)
    assert iam.is_allowed(principal, "secret.read", secret_group_id=other.pk), (
        "Writer via group, instance-wide"
    )
    assert not iam.is_allowed(principal, "secret.delete", secret_group_id=other.pk)


def test_create_api_key_command_prints_only_the_key(client):
    create_user(username="alice")
    out = io.StringIO()
    call_command("create_api_key", "--user", "alice", stdout=out)
    value = out.getvalue().strip()
    assert "\n" not in value and len(value) == 44
    assert token_request(client, value).status_code == 200
    sid = iam.service_id_create(actor=ADMIN, name="svc")
    out = io.StringIO()
    call_command("create_api_key", "--service-id", sid.pk, stdout=out)
    assert token_request(client, out.getvalue().strip()).json()["access_token"]
