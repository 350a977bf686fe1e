"""IAM, service and custom credentials secrets through the official SDK: create, get (the value,
audited), get metadata, update and delete, each type's §7.2 rules, and a custom credentials
secret activated by a real job."""

from __future__ import annotations

import json
from typing import Any

import pytest

from console.identity import Actor
from engines_app.providers.embedded.code_engine.models import JobRun
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ApiKey
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ResourceKey, ServiceInstance
from secrets_app import seed
from secrets_app.models import Secret, SecretState, SecretTask, TaskStatus
from secrets_app.services import service_credentials as sc
from tests.api.conftest import api_error
from tests.cloud_fixtures import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = Actor(iam_id="IBMid-0000000999", name="api-secrets-admin", system=True)
WRITER_ROLE_CRN = "crn:v1:bluemix:public:iam::::serviceRole:Writer"


def target(exc) -> str:
    return exc.http_response.json()["errors"][0]["target"]["name"]


# --- IAM credentials ------------------------------------------------------------------------


@pytest.fixture
def iam_engine(db):
    return seed.seed_iam_engine(actor=ADMIN)


def iam_body(**extra: Any) -> dict[str, Any]:
    return {
        "secret_type": "iam_credentials",
        "name": "deploy-key",
        "ttl": "30d",
        "reuse_api_key": True,
        **extra,
    }


def test_iam_credentials_create_get_update_delete(iam_engine, manager, reader):
    app = iam.service_id_create(actor=ADMIN, name="app-runner")
    created = manager.create_secret(
        secret_prototype=iam_body(
            service_id=app.pk,
            labels=["deploy"],
            rotation={"auto_rotate": True, "interval": 10, "unit": "day"},
        )
    )
    assert created.get_status_code() == 201
    body = created.get_result()
    assert body["secret_type"] == "iam_credentials" and body["ttl"] == str(30 * 86400)
    assert body["service_id"] == app.pk and body["service_id_is_static"] is True
    assert body["reuse_api_key"] is True and body["api_key_id"].startswith("ApiKey-")
    assert body["rotation"] == {"auto_rotate": True, "interval": 10, "unit": "day"}
    assert body["next_rotation_date"] and body["expiration_date"]
    assert "api_key" not in body and "access_groups" not in body

    key = ApiKey.objects.get(pk=body["api_key_id"])
    metadata = reader.get_secret_metadata(id=body["id"]).get_result()
    assert "api_key" not in metadata and metadata["api_key_id"] == key.pk
    secret = manager.get_secret(id=body["id"]).get_result()
    assert secret["api_key_id"] == key.pk and secret["service_id"] == app.pk
    assert len(secret["api_key"]) >= 5 and secret["downloaded"] is True
    assert secret["api_key"] not in json.dumps(
        reader.get_secret_metadata(id=body["id"]).get_result()
    )
    again = manager.get_secret(id=body["id"]).get_result()
    assert again["api_key"] == secret["api_key"], "reuse on: the same key until the lease ends"

    patched = manager.update_secret_metadata(
        id=body["id"],
        secret_metadata_patch={"ttl": "20d", "rotation": {"auto_rotate": False}},
    ).get_result()
    assert patched["ttl"] == str(20 * 86400) and patched["rotation"] == {"auto_rotate": False}
    assert "next_rotation_date" not in patched
    exc = api_error(
        lambda: manager.update_secret_metadata(id=body["id"], secret_metadata_patch={"ttl": None})
    )
    assert exc.status_code == 400 and target(exc) == "ttl"
    exc = api_error(
        lambda: manager.update_secret_metadata(
            id=body["id"], secret_metadata_patch={"expiration_date": "2099-01-01T00:00:00Z"}
        )
    )
    assert exc.status_code == 400 and target(exc) == "expiration_date"

    assert manager.delete_secret(id=body["id"]).get_status_code() == 204
    assert not Secret.objects.filter(pk=body["id"]).exists()


def test_iam_credentials_with_reuse_off_issue_a_new_key_on_each_read(iam_engine, manager):
    group = iam.access_group_create(actor=ADMIN, name="deployers")
    body = manager.create_secret(
        secret_prototype=iam_body(name="one-time", reuse_api_key=False, access_groups=[group.pk])
    ).get_result()
    assert body["access_groups"] == [group.pk] and body["service_id_is_static"] is False
    first = manager.get_secret(id=body["id"]).get_result()
    second = manager.get_secret(id=body["id"]).get_result()
    assert first["api_key"] != second["api_key"]
    assert first["api_key_id"] != second["api_key_id"]
    metadata = manager.get_secret_metadata(id=body["id"]).get_result()
    assert metadata["api_key_id"] == second["api_key_id"] and metadata["versions_total"] == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ttl": None}, "ttl"),
        ({"ttl": "30"}, "ttl"),  # 30 seconds: below 1 minute
        ({"ttl": "91d"}, "ttl"),
        ({"ttl": "1w"}, "ttl"),
        ({"ttl": "12345678901"}, "ttl"),
        ({"reuse_api_key": None}, "reuse_api_key"),
        ({"reuse_api_key": "yes"}, "reuse_api_key"),
        ({"access_groups": ["not-a-group"]}, "access_groups.0"),
        ({"access_groups": []}, "access_groups"),
        ({"access_groups": [f"AccessGroupId-{n}a" for n in range(11)]}, "access_groups"),
        ({"service_id": "ServiceId-nope"}, "service_id"),
        ({"account_id": "ABC"}, "account_id"),
        ({"rotation": {"interval": 10, "unit": "day"}}, "rotation.auto_rotate"),
        ({"rotation": {"auto_rotate": True, "interval": 10, "unit": "week"}}, "rotation.unit"),
        ({"rotation": {"auto_rotate": True, "interval": 0, "unit": "day"}}, "rotation.interval"),
        ({"rotation": {"auto_rotate": True, "interval": 12, "unit": "hour"}}, "rotation"),
        ({"rotation": {"auto_rotate": True, "interval": 4, "unit": "month"}}, "rotation"),
        ({"rotation": {"auto_rotate": True, "interval": 40, "unit": "day"}}, "rotation"),
        (
            {
                "reuse_api_key": False,
                "rotation": {"auto_rotate": True, "interval": 1, "unit": "day"},
            },
            "rotation",
        ),
    ],
)
def test_each_iam_rule_is_a_400_that_names_the_field(iam_engine, manager, change, field):
    app = iam.service_id_create(actor=ADMIN, name="app-runner")
    body = {**iam_body(service_id=app.pk), **change}
    body = {k: v for k, v in body.items() if v is not None}
    exc = api_error(lambda: manager.create_secret(secret_prototype=body))
    assert exc.status_code == 400, exc.message
    assert target(exc) == field, exc.message
    assert not Secret.objects.filter(secret_type="iam_credentials").exists()


def test_iam_service_id_and_access_groups_are_exclusive_and_must_exist(iam_engine, manager):
    app = iam.service_id_create(actor=ADMIN, name="app-runner")
    group = iam.access_group_create(actor=ADMIN, name="deployers")
    exc = api_error(
        lambda: manager.create_secret(
            secret_prototype=iam_body(service_id=app.pk, access_groups=[group.pk])
        )
    )
    assert exc.status_code == 400 and target(exc) == "service_id" and "not both" in exc.message
    exc = api_error(lambda: manager.create_secret(secret_prototype=iam_body()))
    assert exc.status_code == 400 and target(exc) == "service_id"
    missing = "ServiceId-0b5c5a52-6d3e-4bb1-9b66-43c9c1e5a0aa"
    exc = api_error(lambda: manager.create_secret(secret_prototype=iam_body(service_id=missing)))
    assert exc.status_code == 400 and target(exc) == "service_id"
    exc = api_error(
        lambda: manager.create_secret(
            secret_prototype=iam_body(access_groups=["AccessGroupId-unknown-1"])
        )
    )
    assert exc.status_code == 400 and target(exc) == "access_groups"
    exc = api_error(
        lambda: manager.create_secret(
            secret_prototype=iam_body(service_id=app.pk, account_id="a" * 32)
        )
    )
    assert exc.status_code == 400 and target(exc) == "account_id"


def test_an_iam_secret_used_as_an_api_key_ref_cannot_be_deleted(cloud, manager):
    key_secret = Secret.objects.get(name=seed.JOB_KEY_SECRET)
    metadata = manager.get_secret_metadata(id=str(key_secret.pk)).get_result()
    assert metadata["referenced_by"] == ["certificate-provider", "token-provider"]
    exc = api_error(lambda: manager.delete_secret(id=str(key_secret.pk), force_delete=True))
    assert exc.status_code == 409 and "api_key_ref" in exc.message
    assert Secret.objects.filter(pk=key_secret.pk).exists()


# --- Service credentials --------------------------------------------------------------------


@pytest.fixture
def instances(db) -> dict[str, ServiceInstance]:
    rc_services.seed_service_instances(actor=ADMIN)
    found = {i.name: i for i in ServiceInstance.objects.all()}
    sc.authorize_service_instance(actor=ADMIN, instance_crn=found["postgres-orders"].crn)
    sc.authorize_service_instance(actor=ADMIN, instance_crn=found["cos-backups"].crn)
    return found


def service_body(crn: str, **extra: Any) -> dict[str, Any]:
    return {
        "secret_type": "service_credentials",
        "name": "orders-db",
        "source_service": {"instance": {"crn": crn}, "role": {"crn": WRITER_ROLE_CRN}},
        **extra,
    }


def test_service_credentials_create_get_update_delete(instances, writer, manager, reader):
    crn = instances["postgres-orders"].crn
    body = writer.create_secret(
        secret_prototype=service_body(
            crn, ttl="30d", rotation={"auto_rotate": True, "interval": 7, "unit": "day"}
        )
    ).get_result()
    key = ResourceKey.objects.get()
    assert body["secret_type"] == "service_credentials" and body["ttl"] == str(30 * 86400)
    source = body["source_service"]
    assert source["instance"] == {"crn": crn} and source["role"] == {"crn": WRITER_ROLE_CRN}
    assert source["resource_key"] == {"crn": key.crn, "name": "orders-db"}
    assert source["iam"]["serviceid"]["crn"].startswith("crn:v1:bluemix:public:iam-identity")
    assert "credentials" not in body

    secret = writer.get_secret(id=body["id"]).get_result()
    assert secret["credentials"] and isinstance(secret["credentials"], dict)
    metadata = reader.get_secret_metadata(id=body["id"]).get_result()
    assert "credentials" not in metadata and metadata["downloaded"] is True
    apikey = secret["credentials"]["apikey"]
    assert len(apikey) > 12 and apikey not in json.dumps(metadata)

    patched = writer.update_secret_metadata(
        id=body["id"], secret_metadata_patch={"ttl": "40d", "description": "orders"}
    ).get_result()
    assert patched["ttl"] == str(40 * 86400) and patched["description"] == "orders"
    assert manager.delete_secret(id=body["id"]).get_status_code() == 204
    key.refresh_from_db()
    assert key.is_deleted


def test_service_credentials_rules_name_the_body_field(instances, writer):
    crn = instances["postgres-orders"].crn
    cases = [
        (service_body("crn:v1:bluemix:public:nothing:here::"), "source_service.instance.crn"),
        (
            service_body(crn, source_service={"instance": {"crn": crn}, "role": {"crn": "Boss"}}),
            "source_service.role.crn",
        ),
        (
            service_body(
                crn, source_service={"instance": {"crn": crn}, "parameters": {"HMAC": True}}
            ),
            "source_service.parameters.HMAC",
        ),
        (
            service_body(
                crn,
                source_service={"instance": {"crn": crn}, "parameters": {"serviceid_crn": "nope"}},
            ),
            "source_service.parameters.serviceid_crn",
        ),
        (
            service_body(crn, source_service={"instance": {"crn": crn}, "parameters": {"x": 1}}),
            "source_service.parameters.x",
        ),
        (
            service_body(crn, source_service={"role": {"crn": WRITER_ROLE_CRN}}),
            "source_service.instance",
        ),
        (service_body(crn, ttl="12h"), "ttl"),
        (service_body(crn, ttl="91d"), "ttl"),
        (
            service_body(
                crn, ttl="2d", rotation={"auto_rotate": True, "interval": 3, "unit": "day"}
            ),
            "rotation",
        ),
        (
            service_body(crn, rotation={"auto_rotate": True, "interval": 12, "unit": "hour"}),
            "rotation",
        ),
    ]
    for body, field in cases:
        exc = api_error(lambda b=body: writer.create_secret(secret_prototype=b))
        assert exc.status_code == 400, (field, exc.message)
        assert target(exc) == field, (field, exc.message)
    assert not ResourceKey.objects.exists() and not Secret.objects.exists()
    unauthorized = instances["events-orders"].crn
    exc = api_error(lambda: writer.create_secret(secret_prototype=service_body(unauthorized)))
    assert exc.status_code == 409 and target(exc) == "source_service.instance.crn"
    assert "Key Manager" in exc.message


# --- Custom credentials ---------------------------------------------------------------------


def custom_body(**extra: Any) -> dict[str, Any]:
    return {
        "secret_type": "custom_credentials",
        "name": "partner-token",
        "configuration": "token-provider",
        "parameters": {"user_name": "alice", "scope": "user"},
        **extra,
    }


def test_a_custom_credentials_secret_is_activated_by_its_job(cloud, q_sync, sdk_as, reader):
    group = cloud["group"].pk
    writer = sdk_as("Writer", group)
    manager = sdk_as("Manager", group)
    created = writer.create_secret(
        secret_prototype=custom_body(
            secret_group_id=group,
            ttl="30d",
            rotation={"auto_rotate": True, "interval": 12, "unit": "hour"},
            version_custom_metadata={"ticket": "OPS-2"},
        )
    )
    assert created.get_status_code() == 201
    body = created.get_result()
    assert (body["state"], body["state_description"]) == (0, "pre_activation")
    assert body["credentials_content"] == {} and body["versions_total"] == 0
    assert body["configuration"] == "token-provider" and body["task_count"] == 1
    assert body["parameters"] == {"user_name": "alice", "scope": "user"}
    assert body["last_rotation_failed"] is False and body["ttl"] == str(30 * 86400)

    task = wait_for_task(body["id"])
    runs = [r.stdout for r in JobRun.objects.filter(name=task.pk)]
    assert task.status == TaskStatus.CREDENTIALS_CREATED, (task.errors, runs)
    secret = writer.get_secret(id=body["id"]).get_result()
    assert (secret["state"], secret["state_description"]) == (1, "active")
    token = secret["credentials_content"]["token"]
    assert token and secret["versions_total"] == 1 and secret["downloaded"] is True
    assert secret["task_count"] == 1 and secret["queued_task_count"] == 0
    assert "processing_task_id" not in secret and "last_failed_task_id" not in secret

    metadata = reader.get_secret_metadata(id=body["id"]).get_result()
    assert "credentials_content" not in metadata and token not in json.dumps(metadata)
    listed = reader.list_secrets(secret_types=["custom_credentials"]).get_result()
    assert token not in json.dumps(listed)

    patched = writer.update_secret_metadata(
        id=body["id"],
        secret_metadata_patch={"parameters": {"scope": "admin"}, "ttl": "20d"},
    ).get_result()
    assert patched["parameters"] == {"user_name": "alice", "scope": "admin"}
    exc = api_error(
        lambda: writer.update_secret_metadata(
            id=body["id"], secret_metadata_patch={"parameters": {"color": "red"}}
        )
    )
    assert exc.status_code == 400 and target(exc) == "parameters"

    # Its credentials still exist at the provider: deleting needs force.
    exc = api_error(lambda: manager.delete_secret(id=body["id"]))
    assert exc.status_code == 409 and "force" in exc.message
    assert manager.delete_secret(id=body["id"], force_delete=True).get_status_code() == 204
    assert api_error(lambda: manager.get_secret_metadata(id=body["id"])).status_code == 404


def test_a_pre_activation_secret_reads_with_empty_credentials_content(cloud, sdk_as):
    writer = sdk_as("Writer", cloud["group"].pk)
    body = writer.create_secret(
        secret_prototype=custom_body(secret_group_id=cloud["group"].pk)
    ).get_result()
    secret = writer.get_secret(id=body["id"]).get_result()
    assert secret["state"] == SecretState.PRE_ACTIVATION and secret["credentials_content"] == {}
    assert secret["queued_task_count"] == 1 and secret["downloaded"] is False
    assert SecretTask.objects.filter(secret_id=body["id"], status=TaskStatus.QUEUED).count() == 1


def test_custom_credentials_rules_name_the_field(cloud, sdk_as):
    writer = sdk_as("Writer", cloud["group"].pk)
    group = {"secret_group_id": cloud["group"].pk}
    cases = [
        (custom_body(configuration="-bad-"), "configuration"),
        (custom_body(configuration="x"), "configuration"),
        (custom_body(configuration="no-such-config"), "configuration"),
        (custom_body(parameters={}), "parameters"),
        (custom_body(parameters={"user_name": "alice", "scope": "root"}), "parameters"),
        (custom_body(parameters={"user_name": "alice", "expires": "soon"}), "parameters"),
        (custom_body(parameters={"user_name": "alice", "color": "red"}), "parameters"),
        (custom_body(parameters={"user_name": ["a"]}), "parameters.user_name.str"),
        (custom_body(ttl="12h"), "ttl"),
        (custom_body(rotation={"auto_rotate": True, "interval": 3, "unit": "hour"}), "rotation"),
        (
            custom_body(ttl="1d", rotation={"auto_rotate": True, "interval": 2, "unit": "day"}),
            "rotation",
        ),
    ]
    for body, field in cases:
        exc = api_error(lambda b=body: writer.create_secret(secret_prototype={**b, **group}))
        assert exc.status_code == 400, (field, exc.message)
        assert target(exc) == field, (field, exc.message)
    assert not Secret.objects.filter(secret_type="custom_credentials").exists()
    exc = api_error(
        lambda: sdk_as("SecretsReader", cloud["group"].pk).create_secret(
            secret_prototype={**custom_body(), **group}
        )
    )
    assert exc.status_code == 403 and "Writer" in exc.message
