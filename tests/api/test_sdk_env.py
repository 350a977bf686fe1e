"""The SDK's external configuration, as IBM documents it: `SecretsManagerV2.new_instance()` reads
SECRETS_MANAGER_URL, SECRETS_MANAGER_AUTH_TYPE, SECRETS_MANAGER_APIKEY and
SECRETS_MANAGER_AUTH_URL (the prefix is the SDK's service name, secrets_manager), and nothing
else is needed to use the console."""

from __future__ import annotations

import pytest
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
from ibm_secrets_manager_sdk.secrets_manager_v2 import SecretsManagerV2

from engines_app.providers.embedded.iam import services as iam
from tests.api.conftest import SETUP, api_error

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def env_client(api_url, monkeypatch):
    """A client configured only by the environment, for a service ID that is Reader everywhere."""

    def make(apikey: str) -> SecretsManagerV2:
        monkeypatch.setenv("SECRETS_MANAGER_URL", api_url)
        monkeypatch.setenv("SECRETS_MANAGER_AUTH_TYPE", "iam")
        monkeypatch.setenv("SECRETS_MANAGER_APIKEY", apikey)
        monkeypatch.setenv("SECRETS_MANAGER_AUTH_URL", api_url)
        client = SecretsManagerV2.new_instance()
        clients.append(client)
        return client

    clients: list[SecretsManagerV2] = []
    yield make
    for client in clients:
        client.get_http_client().close()


def _api_key(role: str | None) -> str:
    service_id = iam.service_id_create(actor=SETUP, name=f"env-{role or 'nobody'}")
    if role:
        iam.policy_grant(actor=SETUP, role=role, secret_group_id=None, service_id=service_id)
    return iam.api_key_create(actor=SETUP, name="env", service_id=service_id)[1]


def test_new_instance_from_the_environment_lists_the_groups(env_client, api_url, manager):
    group = manager.create_secret_group(name="from-env").get_result()
    client = env_client(_api_key("Reader"))
    assert client.service_url == api_url
    assert isinstance(client.authenticator, IAMAuthenticator)
    assert client.authenticator.token_manager.url == api_url
    listed = client.list_secret_groups().get_result()
    assert {g["name"] for g in listed["secret_groups"]} == {"default", "from-env"}
    assert client.get_secret_group(id=group["id"]).get_result()["name"] == "from-env"
    # The role still counts: a Reader may not create.
    exc = api_error(lambda: client.create_secret_group(name="nope"))
    assert exc.status_code == 403


def test_an_unknown_api_key_in_the_environment_is_refused(env_client):
    client = env_client("not-a-real-api-key-0000000000000000000000")
    exc = api_error(lambda: client.list_secret_groups())
    # The token endpoint answers as IBM IAM does (the message IBM's Go jobs look for).
    assert exc.status_code == 400 and exc.message == "Provided API key could not be found."
    assert "not-a-real-api-key" not in exc.http_response.text
