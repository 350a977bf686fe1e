"""Secrets through the official SDK: the arbitrary type end to end, and the refusals of create,
get, update and delete (400 per §7.2 rule with its target, 403 per role, 404, 409), with a
canary value that must never appear outside get_secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from console.models import AuditEvent
from secrets_app.models import Secret
from tests.api.conftest import api_error
from tests.factories import create_group

pytestmark = pytest.mark.django_db(transaction=True)

CANARY = "CANARY-3b9e0c71-api-secrets"


def arbitrary(name: str = "app-password", **extra: Any) -> dict[str, Any]:
    return {"secret_type": "arbitrary", "name": name, "payload": CANARY, **extra}


def target(exc) -> dict[str, str]:
    return exc.http_response.json()["errors"][0]["target"]


def assert_no_canary(*bodies: Any) -> None:
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        assert CANARY not in text


def test_a_writer_creates_gets_updates_and_a_manager_deletes_an_arbitrary_secret(
    writer, manager, reader
):
    group = create_group(name="payments")
    created = writer.create_secret(
        secret_prototype=arbitrary(
            description="Card rails",
            secret_group_id=group.pk,
            labels=["prod", "cards"],
            custom_metadata={"team": "payments"},
            version_custom_metadata={"ticket": "OPS-1"},
            expiration_date="2099-01-01T00:00:00Z",
        )
    )
    assert created.get_status_code() == 201
    body = created.get_result()
    assert_no_canary(body)
    assert body["secret_type"] == "arbitrary" and body["name"] == "app-password"
    assert body["secret_group_id"] == group.pk and body["labels"] == ["prod", "cards"]
    assert body["custom_metadata"] == {"team": "payments"}
    assert (body["state"], body["state_description"]) == (1, "active")
    assert body["versions_total"] == 1 and body["locks_total"] == 0
    assert body["downloaded"] is False and body["retrieved_at"] == "1970-01-01T00:00:00.000Z"
    assert body["referenced_by"] == [] and body["expiration_date"] == "2099-01-01T00:00:00.000Z"
    assert body["crn"].startswith("crn:v1:bluemix:public:secrets-manager:")
    assert body["crn"].endswith(f":secret:{body['id']}")
    assert body["created_by"].startswith("iam-ServiceId-") and len(body["created_at"]) == 24
    assert "version_custom_metadata" not in body

    metadata = reader.get_secret_metadata(id=body["id"]).get_result()
    assert_no_canary(metadata)
    assert metadata["downloaded"] is False and "payload" not in metadata

    reads_before = AuditEvent.objects.filter(action="secret.read_payload").count()
    secret = writer.get_secret(id=body["id"]).get_result()
    assert secret["payload"] == CANARY
    assert secret["downloaded"] is True and secret["retrieved_at"] != "1970-01-01T00:00:00.000Z"
    assert AuditEvent.objects.filter(action="secret.read_payload").count() == reads_before + 1
    by_name = writer.get_secret_by_name_type(
        secret_type="arbitrary", name="app-password", secret_group_name="payments"
    ).get_result()
    assert by_name["id"] == body["id"] and by_name["payload"] == CANARY

    patched = writer.update_secret_metadata(
        id=body["id"],
        secret_metadata_patch={
            "name": "app-password-2",
            "description": "Card and wire rails",
            "labels": ["prod"],
            "custom_metadata": {"team": "treasury"},
            "expiration_date": "2098-06-01T12:00:00Z",
        },
    ).get_result()
    assert_no_canary(patched)
    assert patched["name"] == "app-password-2" and patched["labels"] == ["prod"]
    assert patched["description"] == "Card and wire rails"
    assert patched["custom_metadata"] == {"team": "treasury"}
    assert patched["expiration_date"] == "2098-06-01T12:00:00.000Z"
    # merge patch: null removes, absent keys stay
    cleared = writer.update_secret_metadata(
        id=body["id"], secret_metadata_patch={"description": None, "expiration_date": None}
    ).get_result()
    assert cleared["description"] == "" and "expiration_date" not in cleared
    assert cleared["labels"] == ["prod"]

    assert manager.delete_secret(id=body["id"]).get_status_code() == 204
    assert api_error(lambda: manager.get_secret_metadata(id=body["id"])).status_code == 404
    assert not Secret.objects.filter(pk=body["id"]).exists()


def test_patch_also_accepts_application_json(writer, api_url):
    secret = writer.create_secret(secret_prototype=arbitrary()).get_result()
    response = writer.update_secret_metadata(
        id=secret["id"],
        secret_metadata_patch={"description": "plain json"},
        headers={"content-type": "application/json"},
    )
    assert response.get_result()["description"] == "plain json"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "-bad name-"}, "name", "pattern"),
        ({"name": "x"}, "name", "at least 2"),
        ({"name": "n" * 257}, "name", "at most 256"),
        ({"description": "d" * 1025}, "description", "at most 1024"),
        ({"labels": ["ok", "x"]}, "labels.1", "at least 2"),
        ({"labels": ["l" * 65]}, "labels.0", "at most 64"),
        ({"labels": [f"label-{n}" for n in range(31)]}, "labels", "at most 30"),
        ({"labels": ["dup", "dup"]}, "labels", "twice"),
        ({"custom_metadata": {"blob": "m" * 10_300}}, "custom_metadata", "10 KB"),
        ({"version_custom_metadata": {"blob": "m" * 10_300}}, "version_custom_metadata", "10 KB"),
        ({"custom_metadata": ["not", "an", "object"]}, "custom_metadata", "dictionary"),
        ({"secret_group_id": "not-a-group"}, "secret_group_id", "pattern"),
        ({"payload": ""}, "payload", "at least 1"),
        ({"payload": "p" * 1_000_001}, "payload", "at most 1000000"),
        ({"expiration_date": "2001-01-01T00:00:00Z"}, "expiration_date", "future"),
        ({"expiration_date": "soon"}, "expiration_date", "datetime"),
        ({"secret_type": "kv"}, "secret_type", "supported types are arbitrary"),
        ({"secret_type": "public_cert"}, "secret_type", "not supported"),
        ({"secret_type": None}, "secret_type", "is required"),
        ({"ttl": "1d"}, "ttl", "not a known field"),
        ({"name": 12}, "name", "string"),
    ],
)
def test_each_create_rule_is_a_400_that_names_the_field(writer, change, field, words):
    body = {**arbitrary(), **change}
    if change.get("secret_type", "") is None:
        del body["secret_type"]
    exc = api_error(lambda: writer.create_secret(secret_prototype=body))
    assert exc.status_code == 400, exc.message
    assert target(exc) == {"type": "field", "name": field}
    assert words in exc.message
    assert_no_canary(exc.http_response.text)
    assert not Secret.objects.exists()


def test_a_secret_group_that_does_not_exist_is_404(writer):
    exc = api_error(
        lambda: writer.create_secret(
            secret_prototype=arbitrary(secret_group_id="0b5c5a52-6d3e-4bb1-9b66-43c9c1e5a0aa")
        )
    )
    assert exc.status_code == 404 and target(exc)["name"] == "secret_group_id"


def test_duplicate_names_conflict_per_type_across_groups(writer):
    other = create_group(name="other")
    writer.create_secret(secret_prototype=arbitrary("shared-name"))
    exc = api_error(
        lambda: writer.create_secret(
            secret_prototype=arbitrary("shared-name", secret_group_id=other.pk)
        )
    )
    assert exc.status_code == 409 and "already exists" in exc.message
    assert target(exc)["name"] == "name"
    assert_no_canary(exc.http_response.text)
    second = writer.create_secret(secret_prototype=arbitrary("second")).get_result()
    exc = api_error(
        lambda: writer.update_secret_metadata(
            id=second["id"], secret_metadata_patch={"name": "shared-name"}
        )
    )
    assert exc.status_code == 409 and target(exc)["name"] == "name"


def test_roles_too_weak_are_403_and_name_the_role(sdk_as, writer):
    group = create_group(name="team-a")
    reader = sdk_as("Reader", group.pk)
    secrets_reader = sdk_as("SecretsReader", group.pk)
    group_writer = sdk_as("Writer", group.pk)
    secret = writer.create_secret(secret_prototype=arbitrary(secret_group_id=group.pk))
    secret_id = secret.get_result()["id"]

    exc = api_error(lambda: reader.get_secret(id=secret_id))
    assert exc.status_code == 403 and "SecretsReader" in exc.message
    assert_no_canary(exc.http_response.text)
    exc = api_error(
        lambda: reader.get_secret_by_name_type(
            secret_type="arbitrary", name="app-password", secret_group_name="team-a"
        )
    )
    assert exc.status_code == 403 and "SecretsReader" in exc.message
    exc = api_error(
        lambda: secrets_reader.create_secret(
            secret_prototype=arbitrary("nope", secret_group_id=group.pk)
        )
    )
    assert exc.status_code == 403 and "Writer" in exc.message
    exc = api_error(
        lambda: secrets_reader.update_secret_metadata(
            id=secret_id, secret_metadata_patch={"description": "x"}
        )
    )
    assert exc.status_code == 403 and "Writer" in exc.message
    exc = api_error(lambda: group_writer.delete_secret(id=secret_id))
    assert exc.status_code == 403 and "Manager" in exc.message
    assert secrets_reader.get_secret(id=secret_id).get_result()["payload"] == CANARY
    assert reader.get_secret_metadata(id=secret_id).get_result()["id"] == secret_id
    # A Writer on another group only may not create here.
    exc = api_error(lambda: group_writer.create_secret(secret_prototype=arbitrary("elsewhere")))
    assert exc.status_code in (403, 404)


def test_unknown_ids_and_strangers_get_404(writer, stranger_sdk):
    secret_id = writer.create_secret(secret_prototype=arbitrary()).get_result()["id"]
    unknown = "0b5c5a52-6d3e-4bb1-9b66-43c9c1e5a0aa"
    for client, sid in ((writer, unknown), (writer, "not-a-uuid"), (stranger_sdk, secret_id)):
        assert api_error(lambda c=client, s=sid: c.get_secret(id=s)).status_code == 404
        assert api_error(lambda c=client, s=sid: c.get_secret_metadata(id=s)).status_code == 404
        exc = api_error(
            lambda c=client, s=sid: c.update_secret_metadata(
                id=s, secret_metadata_patch={"description": "x"}
            )
        )
        assert exc.status_code == 404
        assert api_error(lambda c=client, s=sid: c.delete_secret(id=s)).status_code == 404
    for kwargs in (
        {"secret_group_name": "default", "secret_type": "arbitrary", "name": "nope"},
        {"secret_group_name": "nogroup", "secret_type": "arbitrary", "name": "app-password"},
        {"secret_group_name": "default", "secret_type": "kv", "name": "app-password"},
    ):
        assert api_error(lambda k=kwargs: writer.get_secret_by_name_type(**k)).status_code == 404
    # A stranger learns nothing more by name than by id.
    exc = api_error(
        lambda: stranger_sdk.get_secret_by_name_type(
            secret_group_name="default", secret_type="arbitrary", name="app-password"
        )
    )
    assert exc.status_code == 404 and secret_id not in exc.message
    exc = api_error(
        lambda: writer.get_secret_by_name_type(
            secret_group_name="default", secret_type="certificate", name="app-password"
        )
    )
    assert exc.status_code == 400


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"ttl": "1d"}, "ttl", "no editable ttl"),
        ({"rotation": {"auto_rotate": False}}, "rotation", "no editable rotation"),
        ({"parameters": {"a": "b"}}, "parameters", "no editable parameters"),
        ({"name": None}, "name", "required"),
        ({"labels": ["x"]}, "labels.0", "at least 2"),
        ({"custom_metadata": {"blob": "m" * 10_300}}, "custom_metadata", "10 KB"),
        ({"secret_type": "arbitrary"}, "secret_type", "not a known field"),
        ({"secret_group_id": "default"}, "secret_group_id", "not a known field"),
        ({"expiration_date": "2001-01-01T00:00:00Z"}, "expiration_date", "future"),
    ],
)
def test_each_patch_rule_is_a_400_that_names_the_field(writer, patch, field, words):
    secret_id = writer.create_secret(secret_prototype=arbitrary()).get_result()["id"]
    exc = api_error(
        lambda: writer.update_secret_metadata(id=secret_id, secret_metadata_patch=patch)
    )
    assert exc.status_code == 400, exc.message
    assert target(exc) == {"type": "field", "name": field} and words in exc.message
    assert_no_canary(exc.http_response.text)
