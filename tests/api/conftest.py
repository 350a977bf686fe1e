"""The API personas: official SDK clients (`ibm-secrets-manager-sdk`, unpatched) against the live
server, each authenticated as a service ID holding one role.

`sdk_as(role, group=None)` makes a client whose service ID holds `role` on `group` (instance-wide
when None); `role=None` is a stranger with no policy at all. The named fixtures are the usual
personas. Every client gets its token from the console's own POST /identity/token, exactly as
IBM's SDK does against IBM IAM.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
from ibm_secrets_manager_sdk.secrets_manager_v2 import SecretsManagerV2

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam

SETUP = Actor(iam_id="IBMid-0000000999", name="api-test-setup", system=True)

SdkFactory = Callable[..., SecretsManagerV2]


@pytest.fixture
def api_url(live_server, settings) -> str:
    settings.SM_PUBLIC_URL = live_server.url
    return live_server.url


@pytest.fixture
def sdk_as(api_url) -> Iterator[SdkFactory]:
    clients: list[SecretsManagerV2] = []

    def make(
        role: str | None, group: str | None = None, *, name: str | None = None
    ) -> SecretsManagerV2:
        service_id = iam.service_id_create(
            actor=SETUP, name=name or f"api-{role or 'stranger'}-{len(clients)}"
        )
        if role is not None:
            iam.policy_grant(actor=SETUP, role=role, secret_group_id=group, service_id=service_id)
        _, value = iam.api_key_create(actor=SETUP, name="sdk", service_id=service_id)
        client = SecretsManagerV2(authenticator=IAMAuthenticator(value, url=api_url))
        client.set_service_url(api_url)
        clients.append(client)
        return client

    yield make
    for client in clients:  # let the live server's threads drop their database connections
        client.get_http_client().close()


@pytest.fixture
def manager(sdk_as) -> SecretsManagerV2:
    return sdk_as("Manager")


@pytest.fixture
def writer(sdk_as) -> SecretsManagerV2:
    return sdk_as("Writer")


@pytest.fixture
def secrets_reader(sdk_as) -> SecretsManagerV2:
    return sdk_as("SecretsReader")


@pytest.fixture
def reader(sdk_as) -> SecretsManagerV2:
    return sdk_as("Reader")


@pytest.fixture
def stranger_sdk(sdk_as) -> SecretsManagerV2:
    return sdk_as(None)


def api_error(call: Callable[[], Any]) -> ApiException:
    """The SDK's ApiException for a call that must fail; its message must be the error's text."""
    with pytest.raises(ApiException) as caught:
        call()
    exc = caught.value
    # Not HTML (a placeholder such as "Bearer <token>" in the error text is fine).
    assert not re.search(
        r"</?(?:!doctype|html|head|body|title|h1|p|pre)\b", exc.message or "", re.I
    ), f"HTML in the SDK's message: {exc.message!r}"
    body = exc.http_response.json()
    assert body["errors"] and body["status_code"] == exc.status_code
    assert exc.message == body["errors"][0]["message"]
    return exc
