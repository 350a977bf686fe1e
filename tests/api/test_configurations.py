"""Configurations through the official SDK: both config types end to end, the
X-Sm-Accept-Configuration-Type header, the §7.2 rules, roles, and a configuration made through
the API that a real job then serves."""

from __future__ import annotations

import uuid

import pytest
from ibm_secrets_manager_sdk.secrets_manager_v2 import (
    CustomCredentialsConfigurationCodeEngine,
    CustomCredentialsConfigurationPatch,
    CustomCredentialsConfigurationPrototype,
    IAMCredentialsConfigurationPatch,
    IAMCredentialsConfigurationPrototype,
)

from console.audit import AuditEvent
from engines_app import services as engine_services
from engines_app.models import ConfigType, Configuration
from engines_app.providers.embedded import seed as embedded_seed
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceAuthorization
from secrets_app.models import Secret, SecretState
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.api.conftest import SETUP, api_error
from tests.cloud_fixtures import wait_for_task
from tests.factories import create_secret

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_JOB = next(job for job in embedded_seed.SAMPLE_JOBS if job.name == "token-provider")


def new_job(cloud, name: str) -> Job:
    """Another token provider job in the seeded (authorized) project."""
    return ce.job_create(
        actor=SETUP,
        project=cloud["project"],
        name=name,
        command=["{python}", "{sample_jobs_dir}/" + TOKEN_JOB.script],
        env=dict(TOKEN_JOB.env),
    )


def custom_prototype(
    cloud, name: str, job_name: str, **extra
) -> CustomCredentialsConfigurationPrototype:
    return CustomCredentialsConfigurationPrototype(
        name=name,
        config_type="custom_credentials_configuration",
        code_engine=CustomCredentialsConfigurationCodeEngine(
            job_name=job_name, project_id=cloud["project"].pk, region="us-south"
        ),
        **extra,
    )


def key_secret_id(cloud) -> str:
    return str(Secret.objects.get(name="credentials-provider-job-apikey").pk)


def error_target(exc) -> dict:
    return exc.http_response.json()["errors"][0].get("target")


def test_custom_configuration_create_get_update_delete(cloud, manager):
    new_job(cloud, "api-token-job")
    created = manager.create_configuration(
        custom_prototype(
            cloud,
            "api-tokens",
            "api-token-job",
            api_key_ref=key_secret_id(cloud),
            task_timeout="15m",
        )
    )
    assert created.get_status_code() == 201
    body = created.get_result()
    assert body["config_type"] == "custom_credentials_configuration"
    assert body["secret_type"] == "custom_credentials"
    assert body["code_engine"] == {
        "job_name": "api-token-job",
        "project_id": cloud["project"].pk,
        "region": "us-south",
    }
    assert body["code_engine_key_ref"].startswith("sm-access-")
    assert body["api_key_ref"] == key_secret_id(cloud) and body["task_timeout"] == "15m"
    assert {p["name"] for p in body["schema"]["parameters"]} == {"user_name", "scope", "expires"}
    assert body["schema"]["credentials"] == [
        {"name": "token", "format": "type:string, required:true"}
    ]
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == 24
    assert body["created_by"].startswith("iam-ServiceId-")

    got = manager.get_configuration(name="api-tokens").get_result()
    assert got == body

    patched = manager.update_configuration(
        name="api-tokens",
        configuration_patch=CustomCredentialsConfigurationPatch(task_timeout="2h"),
    ).get_result()
    assert patched["task_timeout"] == "2h"
    assert Configuration.objects.get(name="api-tokens").task_timeout_seconds == 7200
    exc = api_error(
        lambda: manager.update_configuration(
            name="api-tokens", configuration_patch={"api_key": "abcdefgh"}
        )
    )
    assert exc.status_code == 400 and error_target(exc) == {"type": "field", "name": "api_key"}

    assert manager.delete_configuration(name="api-tokens").get_status_code() == 204
    assert api_error(lambda: manager.get_configuration(name="api-tokens")).status_code == 404


def test_iam_configuration_create_get_update_delete(cloud, manager, reader):
    # The seed configured the IAM engine already: only one is allowed, so replace it.
    manager.delete_configuration(name="iam-configuration")
    engine = iam.service_id_create(actor=SETUP, name="api-iam-engine")
    _, first_key = iam.api_key_create(actor=SETUP, name="engine", service_id=engine)
    _, second_key = iam.api_key_create(actor=SETUP, name="engine-2", service_id=engine)

    created = manager.create_configuration(
        IAMCredentialsConfigurationPrototype(
            name="my-iam-engine", config_type="iam_credentials_configuration", api_key=first_key
        )
    )
    assert created.get_status_code() == 201
    body = created.get_result()
    assert body["config_type"] == "iam_credentials_configuration"
    assert body["secret_type"] == "iam_credentials" and body["disabled"] is False
    assert "api_key" not in body

    # GET returns the key, as IBM's IAMCredentialsConfiguration does, to a Manager (audited);
    # a Reader sees the rest.
    assert manager.get_configuration(name="my-iam-engine").get_result()["api_key"] == first_key
    assert AuditEvent.objects.filter(
        action="configuration.api_key_read", object_name="my-iam-engine"
    ).exists()
    seen_by_reader = reader.get_configuration(name="my-iam-engine").get_result()
    assert "api_key" not in seen_by_reader and seen_by_reader["disabled"] is False

    patched = manager.update_configuration(
        name="my-iam-engine",
        configuration_patch=IAMCredentialsConfigurationPatch(api_key=second_key, disabled=True),
    ).get_result()
    assert patched["disabled"] is True and "api_key" not in patched
    assert manager.get_configuration(name="my-iam-engine").get_result()["api_key"] == second_key
    exc = api_error(
        lambda: manager.update_configuration(
            name="my-iam-engine", configuration_patch={"task_timeout": "10m"}
        )
    )
    assert exc.status_code == 400 and error_target(exc)["name"] == "task_timeout"

    listed = manager.list_configurations().get_result()["configurations"]
    item = next(c for c in listed if c["name"] == "my-iam-engine")
    assert item == patched and "api_key" not in item

    assert manager.delete_configuration(name="my-iam-engine").get_status_code() == 204
    assert not Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).exists()


def test_api_keys_never_show_in_errors_or_lists(cloud, manager):
    canary = "Canary_" + uuid.uuid4().hex[:20]
    exc = api_error(
        lambda: manager.create_configuration(
            IAMCredentialsConfigurationPrototype(
                name="iam-two", config_type="iam_credentials_configuration", api_key=canary
            )
        )
    )
    assert exc.status_code == 400 and canary not in exc.http_response.text
    exc = api_error(
        lambda: manager.update_configuration(
            name="iam-configuration", configuration_patch={"api_key": canary}
        )
    )
    assert exc.status_code == 400 and error_target(exc)["name"] == "api_key"
    assert canary not in exc.http_response.text
    listed = manager.list_configurations().get_result()
    assert "api_key" not in next(
        c for c in listed["configurations"] if c["config_type"] == "iam_credentials_configuration"
    )
    assert not any(canary in str(e.detail) for e in AuditEvent.objects.all())


def test_list_pages_filters_and_sorts(cloud, manager, reader):
    for n in range(4):
        new_job(cloud, f"page-job-{n}")
        manager.create_configuration(custom_prototype(cloud, f"page-config-{n}", f"page-job-{n}"))
    everything = manager.list_configurations().get_result()
    # The seed's certificate-provider, token-provider and iam-configuration, plus four.
    assert everything["total_count"] == 7 and everything["limit"] == 200
    assert everything["offset"] == 0 and "next" not in everything and "previous" not in everything
    assert [c["name"] for c in everything["configurations"]] == sorted(
        c["name"] for c in everything["configurations"]
    )

    from ibm_secrets_manager_sdk.secrets_manager_v2 import ConfigurationsPager

    pager = ConfigurationsPager(
        client=reader, limit=2, sort="-name", secret_types=["custom_credentials"]
    )
    pages = []
    while pager.has_next():
        pages.append([c["name"] for c in pager.get_next()])
    assert [len(p) for p in pages] == [2, 2, 2]
    names = [n for page in pages for n in page]
    assert names == sorted(names, reverse=True) and "iam-configuration" not in names

    second = manager.list_configurations(
        limit=2, offset=2, search="page-config", sort="name"
    ).get_result()
    assert second["total_count"] == 4
    assert [c["name"] for c in second["configurations"]] == ["page-config-2", "page-config-3"]
    assert "next" not in second and "offset=0" not in second["previous"]["href"]
    for link in ("first", "previous", "last"):
        assert "search=page-config" in second[link]["href"] and "sort=name" in second[link]["href"]
    assert "offset=2" in second["last"]["href"]

    by_type = manager.list_configurations(sort="config_type").get_result()["configurations"]
    assert by_type[-1]["config_type"] == "iam_credentials_configuration"
    iam_only = manager.list_configurations(search="iam_cred").get_result()["configurations"]
    assert [c["name"] for c in iam_only] == ["iam-configuration"]
    assert (
        manager.list_configurations(secret_types=["public_cert"]).get_result()["configurations"]
        == []
    )

    for kwargs, name in [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"sort": "created_at"}, "sort"),
        ({"search": "x"}, "search"),
        ({"secret_types": ["arbitrary"]}, "secret_types"),
    ]:
        exc = api_error(lambda kwargs=kwargs: manager.list_configurations(**kwargs))
        assert exc.status_code == 400, kwargs
        assert error_target(exc) == {"type": "parameter", "name": name}


def test_the_header_picks_one_of_two_configurations_with_the_same_name(cloud, manager):
    new_job(cloud, "clash-job")
    manager.create_configuration(custom_prototype(cloud, "iam-configuration", "clash-job"))

    exc = api_error(lambda: manager.get_configuration(name="iam-configuration"))
    assert exc.status_code == 300
    error = exc.http_response.json()["errors"][0]
    assert error["code"] == "multiple_choices"
    assert error["target"] == {"type": "header", "name": "X-Sm-Accept-Configuration-Type"}
    assert "custom_credentials_configuration" in error["message"]
    assert "iam_credentials_configuration" in error["message"]
    assert (
        api_error(
            lambda: manager.update_configuration(
                name="iam-configuration", configuration_patch={"task_timeout": "20m"}
            )
        ).status_code
        == 300
    )
    assert (
        api_error(lambda: manager.delete_configuration(name="iam-configuration")).status_code == 300
    )

    custom = manager.get_configuration(
        name="iam-configuration", x_sm_accept_configuration_type="custom_credentials_configuration"
    ).get_result()
    assert custom["code_engine"]["job_name"] == "clash-job"
    engine = manager.get_configuration(
        name="iam-configuration", x_sm_accept_configuration_type="iam_credentials_configuration"
    ).get_result()
    assert engine["secret_type"] == "iam_credentials"
    manager.update_configuration(
        name="iam-configuration",
        configuration_patch={"task_timeout": "20m"},
        x_sm_accept_configuration_type="custom_credentials_configuration",
    )
    assert (
        api_error(
            lambda: manager.get_configuration(
                name="iam-configuration",
                x_sm_accept_configuration_type="private_cert_configuration_root_ca",
            )
        ).status_code
        == 404
    )
    exc = api_error(
        lambda: manager.get_configuration(
            name="iam-configuration", x_sm_accept_configuration_type="nonsense"
        )
    )
    assert exc.status_code == 400
    manager.delete_configuration(
        name="iam-configuration",
        x_sm_accept_configuration_type="custom_credentials_configuration",
    )
    assert manager.get_configuration(name="iam-configuration").get_result()["config_type"] == (
        "iam_credentials_configuration"
    )


def test_validation_rules_are_400_naming_the_field(cloud, manager):
    new_job(cloud, "rules-job")
    arbitrary = create_secret(name="not-an-iam-secret")
    cases = [
        (custom_prototype(cloud, "-bad-", "rules-job"), "name"),
        (custom_prototype(cloud, "x", "rules-job"), "name"),
        (custom_prototype(cloud, "n" * 129, "rules-job"), "name"),
        (custom_prototype(cloud, "ok-name", "rules-job", task_timeout="4m"), "task_timeout"),
        (custom_prototype(cloud, "ok-name", "rules-job", task_timeout="25h"), "task_timeout"),
        (custom_prototype(cloud, "ok-name", "rules-job", task_timeout="ten"), "task_timeout"),
        (
            custom_prototype(cloud, "ok-name", "rules-job", api_key_ref=str(arbitrary.pk)),
            "api_key_ref",
        ),
        (custom_prototype(cloud, "ok-name", "rules-job", api_key_ref="not-a-uuid"), "api_key_ref"),
        (custom_prototype(cloud, "ok-name", "no-such-job"), "code_engine.job_name"),
        (
            {"config_type": "custom_credentials_configuration", "name": "ok-name"},
            "code_engine",
        ),
        (
            {
                "config_type": "custom_credentials_configuration",
                "name": "ok-name",
                "code_engine": {"project_id": "p", "job_name": "j", "region": "us-south"},
                "schema": {},
            },
            "schema",
        ),
        (
            {"config_type": "iam_credentials_configuration", "name": "iam-2", "api_key": "a b"},
            "api_key",
        ),
    ]
    for body, field in cases:
        exc = api_error(lambda body=body: manager.create_configuration(body))
        assert exc.status_code == 400, (body, exc.message)
        assert error_target(exc) == {"type": "field", "name": field}, (body, exc.message)
    assert (
        "between 5 minutes and 24 hours"
        in api_error(
            lambda: manager.create_configuration(
                custom_prototype(cloud, "ok-name", "rules-job", task_timeout="2d")
            )
        ).message
    )
    assert not Configuration.objects.filter(name="ok-name").exists()

    exc = api_error(
        lambda: manager.create_configuration(
            {"config_type": "public_cert_configuration_ca_lets_encrypt", "name": "le"}
        )
    )
    assert exc.status_code == 400
    assert "custom_credentials_configuration" in exc.message
    assert "iam_credentials_configuration" in exc.message
    assert error_target(exc) == {"type": "field", "name": "config_type"}


def test_instance_limits_are_400(cloud, manager):
    engine = iam.service_id_create(actor=SETUP, name="second-engine")
    _, key = iam.api_key_create(actor=SETUP, name="engine", service_id=engine)
    exc = api_error(
        lambda: manager.create_configuration(
            IAMCredentialsConfigurationPrototype(
                name="second-iam", config_type="iam_credentials_configuration", api_key=key
            )
        )
    )
    assert exc.status_code == 400 and "already configured" in exc.message

    # The seed holds two custom configurations; eight more reach the limit of ten.
    for n in range(8):
        new_job(cloud, f"limit-job-{n}")
        engine_services.custom_configuration_create(
            actor=SETUP,
            name=f"limit-{n}",
            region="us-south",
            project_id=cloud["project"].pk,
            job_name=f"limit-job-{n}",
        )
    new_job(cloud, "limit-job-extra")
    exc = api_error(
        lambda: manager.create_configuration(
            custom_prototype(cloud, "one-too-many", "limit-job-extra")
        )
    )
    assert exc.status_code == 400 and "10 custom credentials configurations" in exc.message


def test_code_engine_authorization_is_required(cloud, manager):
    new_job(cloud, "unauthorized-job")
    ServiceAuthorization.objects.all().delete()
    exc = api_error(
        lambda: manager.create_configuration(
            custom_prototype(cloud, "needs-auth", "unauthorized-job")
        )
    )
    assert exc.status_code == 400
    assert "not authorized to access Code Engine project" in exc.message
    assert error_target(exc) == {"type": "field", "name": "code_engine.project_id"}


def test_roles_unknown_names_and_conflicts(cloud, manager, writer, reader, stranger_sdk):
    new_job(cloud, "roles-job")
    exc = api_error(
        lambda: writer.create_configuration(custom_prototype(cloud, "by-writer", "roles-job"))
    )
    assert exc.status_code == 403 and "Manager" in exc.message
    for client in (writer, reader):
        assert client.get_configuration(name="token-provider").get_result()["name"] == (
            "token-provider"
        )
        assert (
            api_error(
                lambda client=client: client.update_configuration(
                    name="token-provider", configuration_patch={"task_timeout": "20m"}
                )
            ).status_code
            == 403
        )
        assert (
            api_error(
                lambda client=client: client.delete_configuration(name="token-provider")
            ).status_code
            == 403
        )
    for call in (
        lambda: stranger_sdk.list_configurations(),
        lambda: stranger_sdk.get_configuration(name="token-provider"),
    ):
        exc = api_error(call)
        assert exc.status_code == 403 and "Reader" in exc.message

    assert api_error(lambda: manager.get_configuration(name="no-such-config")).status_code == 404
    assert (
        api_error(
            lambda: manager.update_configuration(
                name="no-such-config", configuration_patch={"task_timeout": "20m"}
            )
        ).status_code
        == 404
    )
    assert api_error(lambda: manager.delete_configuration(name="no-such-config")).status_code == 404

    manager.create_configuration(custom_prototype(cloud, "dup-config", "roles-job"))
    new_job(cloud, "roles-job-2")
    exc = api_error(
        lambda: manager.create_configuration(custom_prototype(cloud, "dup-config", "roles-job-2"))
    )
    assert exc.status_code == 409 and "already exists" in exc.message
    assert error_target(exc) == {"type": "field", "name": "name"}

    custom_credentials_secret_create(
        actor=SETUP,
        name="uses-token-provider",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    exc = api_error(lambda: manager.delete_configuration(name="token-provider"))
    assert exc.status_code == 409 and "uses-token-provider" in exc.message
    # Force-deleted, the secret still waits for its task; until then the configuration stays.
    user = Secret.objects.get(name="uses-token-provider")
    manager.delete_secret(id=str(user.pk), force_delete=True)
    assert Secret.all_objects.get(pk=user.pk).deleted_at is not None
    exc = api_error(lambda: manager.delete_configuration(name="token-provider"))
    assert exc.status_code == 409 and "deleted secrets" in exc.message


def test_a_configuration_made_through_the_api_serves_a_secret_a_real_job_activates(
    cloud, manager, q_sync
):
    new_job(cloud, "served-job")
    manager.create_configuration(
        custom_prototype(cloud, "served-tokens", "served-job", api_key_ref=key_secret_id(cloud))
    )
    created = manager.create_secret(
        {
            "secret_type": "custom_credentials",
            "name": "served-token",
            "secret_group_id": cloud["group"].pk,
            "configuration": "served-tokens",
            "parameters": {"user_name": "alice"},
        }
    ).get_result()
    task = wait_for_task(created["id"])
    assert task.status == "credentials_created", task.errors
    secret = Secret.objects.get(pk=created["id"])
    assert secret.state == SecretState.ACTIVE and secret.configuration.name == "served-tokens"
    tasks = manager.list_secret_tasks(secret_id=created["id"]).get_result()["tasks"]
    assert tasks[0]["status"] == "credentials_created"
    assert tasks[0]["updated_by"].startswith("iam-ServiceId-")
