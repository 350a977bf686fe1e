"""The Secrets engines page: the IAM credentials engine and custom credentials configurations."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from console import crypto
from console.identity import Actor
from engines_app import services as engine_services
from engines_app.models import ConfigTestStatus, ConfigType, Configuration, ConfigurationTest
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceAuthorization, ServiceId
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup, SecretState
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.factories import create_user, grant

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
INDEX = reverse("engines:index")


def text(response) -> str:
    return html.unescape(response.content.decode())


def engine() -> Configuration | None:
    return Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first()


def new_api_key() -> str:
    sid = iam.service_id_create(actor=ADMIN, name="engine-key-owner")
    _, value = iam.api_key_create(actor=ADMIN, name="engine-key", service_id=sid)
    return value


@pytest.fixture
def writer_client(client):
    user = create_user(username="writer")
    grant(user, "Writer")
    client.force_login(user)
    return client


# --- IAM credentials tab ----------------------------------------------------------------------


def test_a_missing_engine_is_shown_with_both_ways_to_configure_it(owner_client):
    page = text(owner_client.get(INDEX + "?tab=iam"))
    assert "Not configured." in page
    assert "<dt>Source</dt><dd>Secrets Manager</dd>" in page
    assert "<dt>Target</dt><dd>IAM Identity service</dd>" in page and "<dd>Operator</dd>" in page
    assert ">Authorize</button>" in page and ">Configure with API key</button>" in page


def test_authorize_then_configure(owner_client):
    early = owner_client.post(reverse("engines:iam-configure"))
    assert early.status_code == 422 and "click Authorize first" in text(early)
    assert engine() is None

    response = owner_client.post(reverse("engines:iam-authorize"))
    assert response.status_code == 302 and response["Location"] == INDEX + "?tab=iam"
    auth = ServiceAuthorization.objects.get(target_service="iam-identity")
    assert auth.source_service == "secrets-manager" and auth.roles == ["Operator"]
    page = text(owner_client.get(INDEX))
    assert "now authorized to use the IAM Identity service" in page
    assert ">Configure</button>" in page and ">Authorize</button>" not in page
    owner_client.post(reverse("engines:iam-authorize"))
    assert ServiceAuthorization.objects.filter(target_service="iam-identity").count() == 1

    assert owner_client.post(reverse("engines:iam-configure")).status_code == 302
    config = engine()
    assert config is not None and not config.disabled and not config.has_sealed_value
    page = text(owner_client.get(INDEX))
    assert "Service authorization: Secrets Manager → IAM Identity service" in page
    assert 'data-testid="iam-engine-state">Enabled' in page
    again = owner_client.post(reverse("engines:iam-configure"))
    assert again.status_code == 422 and "already configured" in text(again)


def test_an_authorized_engine_lets_iam_credentials_secrets_be_created(owner_client):
    owner_client.post(reverse("engines:iam-authorize"))
    owner_client.post(reverse("engines:iam-configure"))
    assert "the IAM credentials engine is" not in text(owner_client.get(reverse("secrets:add")))


def test_configure_with_an_api_key(owner_client):
    bad = owner_client.post(reverse("engines:iam-configure-api-key"), {"new-api_key": "x!"})
    assert bad.status_code == 422 and "does not look like an IAM API key" in text(bad)
    unknown = owner_client.post(reverse("engines:iam-configure-api-key"), {"new-api_key": "A" * 44})
    assert unknown.status_code == 422 and "IAM does not accept this API key" in text(unknown)
    assert "A" * 44 not in unknown.content.decode(), "an API key is never echoed"
    value = new_api_key()
    ok = owner_client.post(reverse("engines:iam-configure-api-key"), {"new-api_key": value})
    assert ok.status_code == 302
    config = engine()
    assert config is not None and config.has_sealed_value
    sealed = config.get_sealed()
    assert crypto.open_sealed(sealed, context=config.seal_context()).decode() == value
    page = text(owner_client.get(INDEX))
    assert "API key (stored encrypted, never shown)" in page and value not in page
    twice = owner_client.post(reverse("engines:iam-configure-api-key"), {"new-api_key": value})
    assert twice.status_code == 422 and "already configured" in text(twice)


def test_edit_replaces_the_api_key(owner_client):
    first, second = new_api_key(), None
    engine_services.iam_configuration_create(actor=ADMIN, api_key=first)
    bad = owner_client.post(reverse("engines:iam-edit"), {"edit-api_key": "B" * 44})
    assert bad.status_code == 422 and "IAM does not accept this API key" in text(bad)
    sid = ServiceId.objects.get(name="engine-key-owner")
    _, second = iam.api_key_create(actor=ADMIN, name="engine-key-2", service_id=sid)
    ok = owner_client.post(reverse("engines:iam-edit"), {"edit-api_key": second})
    assert ok.status_code == 302
    config = engine()
    assert crypto.open_sealed(config.get_sealed(), context=config.seal_context()).decode() == second
    assert "now uses the new API key" in text(owner_client.get(INDEX))


def test_disable_and_enable(owner_client):
    engine_services.iam_configuration_create(actor=ADMIN, api_key=new_api_key())
    assert owner_client.post(reverse("engines:iam-disable")).status_code == 302
    assert engine().disabled
    page = text(owner_client.get(INDEX))
    assert 'data-testid="iam-engine-state">Disabled' in page and ">Enable</button>" in page
    assert "engine is disabled" in text(owner_client.get(reverse("secrets:add")))
    assert owner_client.post(reverse("engines:iam-enable")).status_code == 302
    assert not engine().disabled


def test_editing_a_missing_engine_is_explained(owner_client):
    response = owner_client.post(reverse("engines:iam-disable"))
    assert response.status_code == 422 and "not configured yet" in text(response)


def test_iam_engine_update_service_validates_like_create():
    engine_services.iam_configuration_create(actor=ADMIN, api_key=new_api_key())
    with pytest.raises(Exception, match="does not look like an IAM API key"):
        engine_services.iam_configuration_update(actor=ADMIN, api_key="x")
    config = engine_services.iam_configuration_update(actor=ADMIN, disabled=True)
    assert config.disabled


@pytest.mark.parametrize(
    "name",
    [
        "iam-authorize",
        "iam-configure",
        "iam-configure-api-key",
        "iam-edit",
        "iam-disable",
        "iam-enable",
    ],
)
def test_non_managers_get_403(writer_client, name):
    response = writer_client.post(
        reverse(f"engines:{name}"), {"new-api_key": "x", "edit-api_key": "x"}
    )
    assert response.status_code == 403
    assert engine() is None and not ServiceAuthorization.objects.exists()


def test_readers_see_the_state_but_no_controls(ro_client):
    engine_services.iam_configuration_create(actor=ADMIN, api_key=new_api_key())
    page = text(ro_client.get(INDEX))
    assert 'data-testid="iam-engine-state">Enabled' in page
    assert "You need the Manager role on this instance to change the engine." in page
    assert ">Disable</button>" not in page and "Replace the API key" not in page


# --- Custom credentials tab -------------------------------------------------------------------


@pytest.fixture
def world():
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key)
    return {
        "project": project,
        "key": key,
        "group": SecretGroup.objects.get(name=seed.PROVIDER_GROUP),
    }


def detail_url(name: str) -> str:
    return reverse("engines:config-detail", args=[name])


def test_custom_tab_lists_configurations_with_add_for_managers(owner_client, ro_client, world):
    page = text(owner_client.get(INDEX + "?tab=custom"))
    assert f'href="{detail_url("token-provider")}"' in page
    assert f'action="{reverse("wizard-start", args=["custom_configuration"])}"' in page
    assert ">Add configuration</button>" in page and "2 of 10 used" in page
    assert ">Add configuration</button>" not in text(ro_client.get(INDEX + "?tab=custom"))


def test_configuration_detail_shows_schema_job_timeout_and_users(
    owner_client, world, django_capture_on_commit_callbacks
):
    secret = custom_credentials_secret_create(
        actor=ADMIN,
        name="alice-token",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=world["group"].pk,
    )
    response = owner_client.get(detail_url("token-provider"))
    page = text(response)
    assert response.status_code == 200
    assert "credentials-providers" in page and world["project"].pk in page
    assert "<dt>Job</dt><dd>token-provider" in page
    assert 'data-testid="task-timeout">10m' in page
    assert (
        '<td class="name">user_name</td><td>string</td><td>yes</td><td><code>SM_USER_NAME_VALUE</code>'
        in page
    )
    assert '<td class="name">scope</td><td>enum: admin | user</td><td>no</td>' in page
    assert (
        '<td class="name">token</td><td>string</td><td>yes</td><td><code>SMOUT_TOKEN</code>' in page
    )
    assert f'<a href="/secrets/{secret.pk}/">alice-token</a>' in page
    assert ">Test configuration</button>" in page
    assert owner_client.get(detail_url("no-such-config")).status_code == 404


def test_secrets_in_groups_a_user_cannot_see_are_only_counted(
    client, world, django_capture_on_commit_callbacks
):
    custom_credentials_secret_create(
        actor=ADMIN,
        name="alice-token",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=world["group"].pk,
    )
    # A Reader on another group: a stranger may not open the page at all (tests/security).
    elsewhere = create_user(username="elsewhere")
    grant(elsewhere, "Reader", group=SecretGroup.objects.get(pk="default"))
    client.force_login(elsewhere)
    page = text(client.get(detail_url("token-provider")))
    assert "alice-token" not in page and "and 1 more in secret groups you cannot see" in page
    assert "Delete this configuration" not in page and "Only the task timeout" not in page


def test_edit_the_task_timeout(owner_client, world):
    url = reverse("engines:config-timeout", args=["token-provider"])
    bad = owner_client.post(url, {"task_timeout": "2m"})
    assert bad.status_code == 422 and "between 5 minutes and 24 hours" in text(bad)
    garbage = owner_client.post(url, {"task_timeout": "soon"})
    assert garbage.status_code == 422 and "is not a duration" in text(garbage)
    assert Configuration.objects.get(name="token-provider").task_timeout == "10m"
    ok = owner_client.post(url, {"task_timeout": "2h"})
    assert ok.status_code == 302 and ok["Location"] == detail_url("token-provider")
    config = Configuration.objects.get(name="token-provider")
    assert config.task_timeout == "2h" and config.task_timeout_seconds == 7200


def test_delete_refuses_a_configuration_in_use(
    owner_client, world, django_capture_on_commit_callbacks
):
    custom_credentials_secret_create(
        actor=ADMIN,
        name="alice-token",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=world["group"].pk,
    )
    response = owner_client.post(reverse("engines:config-delete", args=["token-provider"]))
    page = text(response)
    assert response.status_code == 422
    assert (
        "Configuration token-provider is used by 1 secret(s): alice-token. Delete them first."
        in page
    )
    assert Configuration.objects.filter(name="token-provider").exists()


def test_delete_an_unused_configuration_with_its_finished_tests(
    owner_client, world, django_capture_on_commit_callbacks
):
    probe = custom_credentials_secret_create(
        actor=ADMIN,
        name="config-test-certificate-provider-0a1b2c3d",
        configuration="certificate-provider",
        parameters={"common_name": "example.com"},
        secret_group_id=world["group"].pk,
        probe=True,
    )
    test = ConfigurationTest.objects.create(
        configuration=probe.configuration, probe=probe, created_by=ADMIN.iam_id
    )
    running = owner_client.post(reverse("engines:config-delete", args=["certificate-provider"]))
    assert running.status_code == 422 and "still running" in text(running)
    ConfigurationTest.objects.filter(pk=test.pk).update(status=ConfigTestStatus.SUCCEEDED)
    Secret.objects.filter(pk=probe.pk).update(state=SecretState.DESTROYED)
    response = owner_client.post(reverse("engines:config-delete", args=["certificate-provider"]))
    assert response.status_code == 302 and response["Location"] == INDEX + "?tab=custom"
    assert not Configuration.objects.filter(name="certificate-provider").exists()
    assert not Secret.objects.filter(pk=probe.pk).exists()
    assert "Configuration certificate-provider is deleted." in text(
        owner_client.get(response["Location"])
    )


def test_configuration_changes_need_the_manager_role(writer_client, world):
    for name in ("config-timeout", "config-delete"):
        response = writer_client.post(
            reverse(f"engines:{name}", args=["token-provider"]), {"task_timeout": "1h"}
        )
        assert response.status_code == 403
    config = Configuration.objects.get(name="token-provider")
    assert config.task_timeout == "10m"
