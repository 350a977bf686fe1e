"""Secret versions through the official SDK: rotate (arbitrary, IAM, service credentials), restore,
list oldest first, get by id and by alias (the audited value), metadata, and deleting data."""

from __future__ import annotations

import json
import uuid

import pytest
from ibm_secrets_manager_sdk.secrets_manager_v2 import (
    ArbitrarySecretVersionPrototype,
    IAMCredentialsSecretRestoreFromVersionPrototype,
    SecretVersionMetadataPatch,
)

from console.models import AuditEvent
from engines_app.providers.embedded.iam.models import ApiKey
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from secrets_app import seed
from secrets_app.models import Secret, SecretLock, SecretVersion
from secrets_app.services import service_credentials as sc
from tests.api.conftest import SETUP, api_error
from tests.factories import create_group, create_secret
from tests.lifecycle import factories as lf

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def iam_engine(db):
    return seed.seed_iam_engine(actor=SETUP)


@pytest.fixture
def postgres_crn(db) -> str:
    rc_services.seed_service_instances(actor=SETUP)
    instance = ServiceInstance.objects.get(name="postgres-orders")
    sc.authorize_service_instance(actor=SETUP, instance_crn=instance.crn)
    return instance.crn


def versions_of(client, secret_id) -> list[dict]:
    listed = client.list_secret_versions(secret_id=str(secret_id)).get_result()
    assert listed["total_count"] == len(listed["versions"])
    return listed["versions"]


def test_arbitrary_rotation_then_list_and_get_by_id_and_alias(writer, secrets_reader, reader):
    secret = create_secret(payload="first-value")
    sid = str(secret.pk)
    response = writer.create_secret_version(
        secret_id=sid,
        secret_version_prototype=ArbitrarySecretVersionPrototype(
            payload="second-value",
            custom_metadata={"owner": "ops"},
            version_custom_metadata={"ticket": "CHG-1"},
        ),
    )
    assert response.get_status_code() == 201
    created = response.get_result()
    assert created["alias"] == "current" and created["payload_available"] is True
    assert created["secret_type"] == "arbitrary" and created["secret_name"] == secret.name
    assert created["version_custom_metadata"] == {"ticket": "CHG-1"}
    assert created["created_at"].endswith("Z") and "payload" not in created
    assert Secret.objects.get(pk=secret.pk).custom_metadata == {"owner": "ops"}

    listed = versions_of(reader, sid)
    assert [v["alias"] for v in listed] == ["previous", "current"]  # oldest → newest
    assert listed[1]["id"] == created["id"]
    assert all("payload" not in v for v in listed)
    assert all(v["downloaded"] is False for v in listed)

    current = secrets_reader.get_secret_version(secret_id=sid, id="current").get_result()
    assert current["payload"] == "second-value" and current["id"] == created["id"]
    assert current["downloaded"] is True
    previous = secrets_reader.get_secret_version(secret_id=sid, id="previous").get_result()
    assert previous["payload"] == "first-value" and previous["alias"] == "previous"
    by_id = secrets_reader.get_secret_version(secret_id=sid, id=listed[0]["id"]).get_result()
    assert by_id["payload"] == "first-value"
    reads = AuditEvent.objects.filter(action="secret.read_payload", object_id=sid)
    assert reads.count() == 3
    assert Secret.objects.get(pk=secret.pk).retrieved_at is not None

    meta = reader.get_secret_version_metadata(secret_id=sid, id="previous").get_result()
    assert meta["id"] == listed[0]["id"] and meta["downloaded"] is True and "payload" not in meta


def test_version_metadata_is_replaced_by_a_merge_patch(writer, reader):
    secret = create_secret()
    sid = str(secret.pk)
    patched = writer.update_secret_version_metadata(
        secret_id=sid,
        id="current",
        secret_version_metadata_patch=SecretVersionMetadataPatch(
            version_custom_metadata={"approved_by": "alice"}
        ),
    ).get_result()
    assert patched["version_custom_metadata"] == {"approved_by": "alice"}
    assert SecretVersion.objects.get(secret=secret).version_custom_metadata == {
        "approved_by": "alice"
    }
    # A patch without the field changes nothing.
    unchanged = writer.update_secret_version_metadata(
        secret_id=sid, id="current", secret_version_metadata_patch={}
    ).get_result()
    assert unchanged["version_custom_metadata"] == {"approved_by": "alice"}

    exc = api_error(
        lambda: writer.update_secret_version_metadata(
            secret_id=sid,
            id="current",
            secret_version_metadata_patch={"version_custom_metadata": {"k": "x" * 11_000}},
        )
    )
    assert exc.status_code == 400 and "10 KB" in exc.message
    target = exc.http_response.json()["errors"][0]["target"]
    assert target == {"type": "field", "name": "version_custom_metadata"}
    exc = api_error(
        lambda: writer.update_secret_version_metadata(
            secret_id=sid, id="current", secret_version_metadata_patch={"labels": ["x"]}
        )
    )
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"]["name"] == "labels"
    exc = api_error(
        lambda: reader.update_secret_version_metadata(
            secret_id=sid,
            id="current",
            secret_version_metadata_patch={"version_custom_metadata": {}},
        )
    )
    assert exc.status_code == 403 and "Writer" in exc.message


def test_iam_rotation_restore_and_deleting_the_current_versions_data(
    iam_engine, writer, manager, secrets_reader
):
    group = create_group(name="apps")
    secret = lf.iam_secret(group=group, reuse=True)
    sid = str(secret.pk)
    first = versions_of(writer, sid)[0]
    assert first["api_key_id"].startswith("ApiKey-") and first["service_id"] == secret.service_id

    rotated = writer.create_secret_version(secret_id=sid, secret_version_prototype={}).get_result()
    assert rotated["alias"] == "current" and rotated["api_key_id"] != first["api_key_id"]
    assert "api_key" not in rotated

    restored = writer.create_secret_version(
        secret_id=sid,
        secret_version_prototype=IAMCredentialsSecretRestoreFromVersionPrototype(
            restore_from_version="previous", version_custom_metadata={"why": "rollback"}
        ),
    ).get_result()
    assert restored["api_key_id"] == first["api_key_id"]
    assert restored["version_custom_metadata"] == {"why": "rollback", "restored_from_version": 1}
    listed = versions_of(writer, sid)
    assert [(v.get("alias"), v["payload_available"]) for v in listed] == [
        (None, False),
        ("previous", True),
        ("current", True),
    ]
    value = secrets_reader.get_secret_version(secret_id=sid, id="current").get_result()
    assert value["api_key"] and value["api_key_id"] == first["api_key_id"]

    exc = api_error(lambda: manager.delete_secret_version_data(secret_id=sid, id="previous"))
    assert exc.status_code == 400 and "current version" in exc.message
    exc = api_error(lambda: writer.delete_secret_version_data(secret_id=sid, id="current"))
    assert exc.status_code == 403 and "Manager" in exc.message

    response = manager.delete_secret_version_data(secret_id=sid, id="current")
    assert response.get_status_code() == 204
    assert not ApiKey.objects.filter(pk=first["api_key_id"]).exists()
    current = manager.get_secret_version_metadata(secret_id=sid, id="current").get_result()
    assert current["payload_available"] is False
    assert AuditEvent.objects.filter(action="secret_version.delete_data", object_id=sid).exists()
    exc = api_error(lambda: secrets_reader.get_secret_version(secret_id=sid, id="current"))
    assert exc.status_code == 404 and "credentials were deleted" in exc.message
    # Nothing left: asking again says so.
    exc = api_error(lambda: manager.delete_secret_version_data(secret_id=sid, id="current"))
    assert exc.status_code == 400 and "no data left" in exc.message


def test_iam_without_reuse_cannot_be_rotated(iam_engine, writer):
    secret = lf.iam_secret(group=create_group(name="apps"), reuse=False)
    exc = api_error(
        lambda: writer.create_secret_version(secret_id=str(secret.pk), secret_version_prototype={})
    )
    assert exc.status_code == 400 and "Manual rotation isn't supported" in exc.message


def test_service_credentials_rotation_and_value(postgres_crn, writer, secrets_reader):
    secret = lf.service_secret(group=create_group(name="data"), instance_crn=postgres_crn)
    sid = str(secret.pk)
    rotated = writer.create_secret_version(
        secret_id=sid, secret_version_prototype={"version_custom_metadata": {"n": 2}}
    ).get_result()
    assert rotated["secret_type"] == "service_credentials" and "credentials" not in rotated
    assert rotated["resource_key"]["name"] == secret.name
    assert rotated["resource_key"]["crn"].startswith("crn:")
    value = secrets_reader.get_secret_version(secret_id=sid, id=rotated["id"]).get_result()
    assert value["credentials"] and value["resource_key"] == rotated["resource_key"]
    exc = api_error(lambda: writer.delete_secret_version_data(secret_id=sid, id="current"))
    assert exc.status_code == 403
    versions = versions_of(secrets_reader, sid)
    assert [v["version_custom_metadata"] for v in versions] == [{}, {"n": 2}]


def test_a_locked_versions_data_cannot_be_deleted(iam_engine, manager):
    secret = lf.iam_secret(group=create_group(name="apps"), reuse=True)
    version = SecretVersion.objects.get(secret=secret, alias="current")
    SecretLock.objects.create(
        secret=secret, version=version, name="release-42", created_by=SETUP.iam_id
    )
    exc = api_error(
        lambda: manager.delete_secret_version_data(secret_id=str(secret.pk), id="current")
    )
    assert exc.status_code == 412
    assert "locked" in exc.message and "release-42" in exc.message
    version.refresh_from_db()
    assert version.payload_available and ApiKey.objects.filter(pk=version.credentials_id).exists()


def test_refusals_name_the_field_or_parameter(writer, manager, reader):
    secret = create_secret()
    sid = str(secret.pk)

    def target(exc) -> dict:
        return exc.http_response.json()["errors"][0]["target"]

    exc = api_error(
        lambda: writer.create_secret_version(secret_id=sid, secret_version_prototype={})
    )
    assert exc.status_code == 400 and target(exc)["name"] == "payload"
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"payload": "x", "colour": "red"}
        )
    )
    assert exc.status_code == 400 and target(exc) == {"type": "field", "name": "colour"}
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"payload": 42}
        )
    )
    assert exc.status_code == 400 and target(exc)["name"] == "payload"
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"payload": "x" * 1_000_001}
        )
    )
    assert exc.status_code == 400 and target(exc)["name"] == "payload"
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=sid,
            secret_version_prototype={
                "payload": "x",
                "version_custom_metadata": {"k": "v" * 11_000},
            },
        )
    )
    assert exc.status_code == 400 and target(exc)["name"] == "version_custom_metadata"
    writer.create_secret_version(secret_id=sid, secret_version_prototype={"payload": "v2"})
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"restore_from_version": "previous"}
        )
    )
    assert exc.status_code == 400 and "Only IAM credentials" in exc.message
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=sid,
            secret_version_prototype={"restore_from_version": "previous", "payload": "x"},
        )
    )
    assert exc.status_code == 400 and target(exc)["name"] == "restore_from_version"
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"restore_from_version": "latest"}
        )
    )
    assert exc.status_code == 400 and target(exc)["name"] == "restore_from_version"

    exc = api_error(lambda: reader.get_secret_version_metadata(secret_id=sid, id="latest"))
    assert exc.status_code == 400 and target(exc) == {"type": "parameter", "name": "id"}
    exc = api_error(lambda: manager.delete_secret_version_data(secret_id=sid, id="current"))
    assert exc.status_code == 400 and "IAM credentials and custom credentials" in exc.message
    assert all(v.payload_available for v in SecretVersion.objects.filter(secret=secret))


def test_weaker_roles_are_refused_and_unknown_ids_are_404(writer, reader, stranger_sdk):
    secret = create_secret()
    sid = str(secret.pk)
    exc = api_error(
        lambda: reader.create_secret_version(
            secret_id=sid, secret_version_prototype={"payload": "new"}
        )
    )
    assert exc.status_code == 403 and "Writer" in exc.message
    exc = api_error(lambda: reader.get_secret_version(secret_id=sid, id="current"))
    assert exc.status_code == 403 and "SecretsReader" in exc.message
    assert not AuditEvent.objects.filter(action="secret.read_payload").exists()

    for call in (
        lambda: stranger_sdk.list_secret_versions(secret_id=sid),
        lambda: stranger_sdk.get_secret_version_metadata(secret_id=sid, id="current"),
        lambda: stranger_sdk.get_secret_version(secret_id=sid, id="current"),
        lambda: stranger_sdk.delete_secret_version_data(secret_id=sid, id="current"),
    ):
        assert api_error(call).status_code == 404
    unknown = str(uuid.uuid4())
    assert api_error(lambda: reader.list_secret_versions(secret_id=unknown)).status_code == 404
    exc = api_error(
        lambda: writer.create_secret_version(
            secret_id=unknown, secret_version_prototype={"payload": "x"}
        )
    )
    assert exc.status_code == 404
    exc = api_error(lambda: reader.get_secret_version_metadata(secret_id=sid, id=unknown))
    assert exc.status_code == 404 and unknown in exc.message
    exc = api_error(lambda: reader.get_secret_version_metadata(secret_id=sid, id="previous"))
    assert exc.status_code == 404


def test_a_canary_value_stays_out_of_metadata_and_error_bodies(
    iam_engine, writer, reader, secrets_reader
):
    canary = f"CANARY-{uuid.uuid4().hex}"
    secret = create_secret(payload=canary)
    sid = str(secret.pk)
    seen: list[object] = []
    seen.append(
        writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"payload": f"{canary}-2"}
        ).get_result()
    )
    seen.append(reader.list_secret_versions(secret_id=sid).get_result())
    for alias in ("current", "previous"):
        seen.append(reader.get_secret_version_metadata(secret_id=sid, id=alias).get_result())
    seen.append(
        writer.update_secret_version_metadata(
            secret_id=sid,
            id="previous",
            secret_version_metadata_patch={"version_custom_metadata": {"a": 1}},
        ).get_result()
    )
    iam = lf.iam_secret(group=create_group(name="apps"), reuse=True)
    failures = [
        lambda: reader.get_secret_version(secret_id=sid, id="current"),
        lambda: writer.create_secret_version(
            secret_id=str(iam.pk), secret_version_prototype={"payload": canary}
        ),
        lambda: writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"payload": canary, "extra": canary}
        ),
        lambda: writer.create_secret_version(
            secret_id=sid, secret_version_prototype={"payload": [canary]}
        ),
        lambda: writer.create_secret_version(
            secret_id=sid,
            secret_version_prototype={"payload": canary, "restore_from_version": canary},
        ),
    ]
    for call in failures:
        seen.append(api_error(call).http_response.text)
    assert all(canary not in json.dumps(body) for body in seen)
    # ...while the audited read does hand it over.
    value = secrets_reader.get_secret_version(secret_id=sid, id="previous").get_result()
    assert value["payload"] == canary
