"""Secret locks through the official SDK: create, list and delete on secrets and versions, the
modes that move locks and delete the previous data, the lists' paging, and every refusal."""

from __future__ import annotations

import pytest
from ibm_secrets_manager_sdk.secrets_manager_v2 import (
    SecretLocksPager,
    SecretsLocksPager,
    SecretVersionLocksPager,
)

from console.models import AuditEvent
from secrets_app import seed
from secrets_app.models import SecretLock, SecretVersion, TaskStatus
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.api.conftest import api_error
from tests.factories import create_group, create_secret
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

CANARY = "CANARY-locks-5d1e0b7a"


def _lock(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, **extra}


def _rotate(client, secret_id: str, payload: str) -> dict:
    return client.create_secret_version(
        secret_id=secret_id, secret_version_prototype={"payload": payload}
    ).get_result()


def _versions(result: dict) -> dict[str, list[str]]:
    return {v["version_alias"]: v["locks"] for v in result["versions"]}


def test_a_manager_creates_lists_and_deletes_secret_locks(manager, reader):
    secret = create_secret(name="db-password", payload=CANARY)
    response = manager.create_secret_locks_bulk(
        id=str(secret.pk),
        locks=[
            _lock("billing-app", description="Billing reads it", attributes={"crn": "crn:v1:x"}),
            _lock("audit-job"),
        ],
    )
    assert response.get_status_code() == 201
    created = response.get_result()
    assert created["secret_id"] == str(secret.pk) and created["secret_type"] == "arbitrary"
    assert created["secret_group_id"] == "default" and created["secret_name"] == "db-password"
    current = created["versions"][0]
    assert current["version_alias"] == "current" and current["payload_available"] is True
    assert current["locks"] == ["audit-job", "billing-app"]

    listed = reader.list_secret_locks(id=str(secret.pk), sort="name").get_result()
    assert listed["total_count"] == 2 and listed["limit"] == 25 and listed["offset"] == 0
    assert "next" not in listed and "previous" not in listed
    billing = listed["locks"][1]
    assert billing["name"] == "billing-app" and billing["description"] == "Billing reads it"
    assert billing["attributes"] == {"crn": "crn:v1:x"}
    assert billing["secret_version_alias"] == "current"
    assert billing["secret_version_id"] == current["version_id"]
    assert billing["created_by"].startswith("iam-ServiceId-")
    assert billing["created_at"].endswith("Z") and len(billing["created_at"]) == 24
    by_alias = reader.list_secret_version_locks(secret_id=str(secret.pk), id="current")
    assert [lock["name"] for lock in by_alias.get_result()["locks"]] == ["billing-app", "audit-job"]

    # The same name again replaces that lock's description and attributes.
    manager.create_secret_locks_bulk(
        id=str(secret.pk), locks=[_lock("billing-app", description="now v2", attributes={})]
    )
    assert SecretLock.objects.get(name="billing-app").description == "now v2"
    assert SecretLock.objects.count() == 2

    deleted = manager.delete_secret_locks_bulk(id=str(secret.pk), name=["billing-app"])
    assert deleted.get_status_code() == 200
    assert _versions(deleted.get_result()) == {"current": ["audit-job"]}
    emptied = manager.delete_secret_locks_bulk(id=str(secret.pk)).get_result()
    assert _versions(emptied) == {"current": []}
    assert not SecretLock.objects.exists()

    actions = list(
        AuditEvent.objects.filter(object_id=str(secret.pk)).values_list("action", flat=True)
    )
    assert actions.count("secret.lock_create") == 2 and actions.count("secret.lock_delete") == 2
    bodies = [str(created), str(listed), str(by_alias.get_result()), str(deleted.get_result())]
    assert not any(CANARY in body for body in bodies)


def test_version_locks_by_id_and_alias_and_the_remove_previous_mode_moves_a_lock(manager):
    secret = create_secret(name="api-token", payload="v1")
    sid = str(secret.pk)
    manager.create_secret_locks_bulk(id=sid, locks=[_lock("app"), _lock("batch")])
    _rotate(manager, sid, "v2")  # locks on the current version stay with it: it becomes previous
    v1 = SecretVersion.objects.get(secret=secret, serial=1)
    assert v1.alias == "previous"

    # Without a mode the same name may pin both versions.
    both = manager.create_secret_version_locks_bulk(
        secret_id=sid, id="current", locks=[_lock("batch")]
    ).get_result()
    assert _versions(both) == {"current": ["batch"], "previous": ["app", "batch"]}

    moved = manager.create_secret_version_locks_bulk(
        secret_id=sid, id="current", locks=[_lock("app")], mode="remove_previous"
    )
    assert moved.get_status_code() == 201
    assert _versions(moved.get_result()) == {"current": ["app", "batch"], "previous": ["batch"]}
    event = AuditEvent.objects.filter(action="secret.lock_create").latest("id")
    assert event.detail["mode"] == "remove_previous" and event.detail["moved"] == ["app"]

    by_id = manager.list_secret_version_locks(secret_id=sid, id=str(v1.pk)).get_result()
    assert [lock["name"] for lock in by_id["locks"]] == ["batch"]
    assert by_id["locks"][0]["secret_version_alias"] == "previous"
    left = manager.delete_secret_version_locks_bulk(secret_id=sid, id="previous").get_result()
    assert _versions(left) == {"current": ["app", "batch"], "previous": []}
    assert SecretLock.objects.filter(version=v1).count() == 0


def test_remove_previous_and_delete_erases_the_unlocked_previous_data(manager):
    secret = create_secret(name="signing-key", payload="first")
    sid = str(secret.pk)
    manager.create_secret_locks_bulk(id=sid, locks=[_lock("deployer"), _lock("auditor")])
    _rotate(manager, sid, "second")
    # The previous version still holds "auditor": its data is kept.
    kept = manager.create_secret_locks_bulk(
        id=sid, locks=[_lock("deployer")], mode="remove_previous_and_delete"
    ).get_result()
    previous = next(v for v in kept["versions"] if v["version_alias"] == "previous")
    assert previous["locks"] == ["auditor"] and previous["payload_available"] is True
    # Once "auditor" moves too, nothing pins the previous version: its data goes.
    gone = manager.create_secret_locks_bulk(
        id=sid, locks=[_lock("auditor")], mode="remove_previous_and_delete"
    ).get_result()
    previous = next(v for v in gone["versions"] if v["version_alias"] == "previous")
    assert previous["locks"] == [] and previous["payload_available"] is False
    assert not SecretVersion.objects.get(secret=secret, serial=1).payload_available
    exc = api_error(lambda: manager.get_secret_version(secret_id=sid, id="previous"))
    assert exc.status_code == 404


def test_lock_lists_page_sort_and_search_and_the_pagers_walk_them(manager):
    secret = create_secret(name="shared-config")
    sid = str(secret.pk)
    manager.create_secret_locks_bulk(
        id=sid, locks=[_lock(f"consumer-{n:02d}") for n in range(30)] + [_lock("other-app")]
    )
    first = manager.list_secret_locks(id=sid, limit=10, search="consumer", sort="-name")
    page = first.get_result()
    assert page["total_count"] == 30 and len(page["locks"]) == 10
    assert page["locks"][0]["name"] == "consumer-29"
    assert "previous" not in page and "offset=10" in page["next"]["href"]
    for link in ("first", "next", "last"):
        assert "search=consumer" in page[link]["href"] and "sort=-name" in page[link]["href"]
    assert "offset=20" in page["last"]["href"]
    last = manager.list_secret_locks(id=sid, offset=20, limit=10, search="consumer").get_result()
    assert "next" not in last and "offset=10" in last["previous"]["href"]

    names = [
        lock["name"]
        for lock in SecretLocksPager(client=manager, id=sid, limit=7, sort="name").get_all()
    ]
    assert names == sorted(names) and len(names) == 31
    version_pager = SecretVersionLocksPager(
        client=manager, secret_id=sid, id="current", limit=12, search="consumer"
    )
    assert len(version_pager.get_all()) == 30

    exc = api_error(lambda: manager.list_secret_locks(id=sid, sort="secret_type"))
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"] == {"type": "parameter", "name": "sort"}
    assert api_error(lambda: manager.list_secret_locks(id=sid, limit=0)).status_code == 400


def test_list_secrets_locks_across_secrets_with_the_groups_filter(manager, sdk_as):
    team = create_group(name="team-locks")
    in_team = [create_secret(name=f"team-secret-{n}", group=team) for n in range(3)]
    in_default = create_secret(name="default-secret")
    create_secret(name="unlocked-secret", group=team)
    for secret in [*in_team, in_default]:
        manager.create_secret_locks_bulk(id=str(secret.pk), locks=[_lock("ci-pipeline")])
    manager.create_secret_locks_bulk(id=str(in_team[0].pk), locks=[_lock("nightly-backup")])

    everything = manager.list_secrets_locks().get_result()
    assert everything["total_count"] == 4 and everything["limit"] == 200
    assert {s["secret_name"] for s in everything["secrets_locks"]} == {
        "team-secret-0",
        "team-secret-1",
        "team-secret-2",
        "default-secret",
    }
    only_team = manager.list_secrets_locks(groups=[team.pk], limit=2).get_result()
    assert only_team["total_count"] == 3 and len(only_team["secrets_locks"]) == 2
    assert f"groups={team.pk}" in only_team["next"]["href"]
    first = only_team["secrets_locks"][0]
    assert first["secret_name"] == "team-secret-0"
    assert first["versions"][0]["locks"] == ["ci-pipeline", "nightly-backup"]
    walked = SecretsLocksPager(client=manager, groups=[team.pk, "default"], limit=1).get_all()
    assert len(walked) == 4
    searched = manager.list_secrets_locks(search="nightly").get_result()
    assert [s["secret_name"] for s in searched["secrets_locks"]] == ["team-secret-0"]
    assert searched["secrets_locks"][0]["versions"][0]["locks"] == ["nightly-backup"]

    # A Reader on the team group sees only that group's secrets.
    team_reader = sdk_as("Reader", team.pk)
    seen = team_reader.list_secrets_locks().get_result()
    assert {s["secret_group_id"] for s in seen["secrets_locks"]} == {team.pk}
    assert seen["total_count"] == 3


def test_a_locked_previous_version_blocks_rotation_and_data_deletion(manager):
    secret = create_secret(name="pinned", payload=CANARY)
    sid = str(secret.pk)
    manager.create_secret_locks_bulk(id=sid, locks=[_lock("legacy-app")])
    _rotate(manager, sid, "second")  # fine: the locked version becomes previous
    exc = api_error(lambda: _rotate(manager, sid, "third"))
    assert exc.status_code == 412
    assert "locked" in exc.message and "legacy-app" in exc.message and "version 1" in exc.message
    assert CANARY not in exc.http_response.text
    assert SecretVersion.objects.filter(secret=secret).count() == 2

    manager.delete_secret_locks_bulk(id=sid, name=["legacy-app"])
    assert _rotate(manager, sid, "third")["alias"] == "current"


def test_a_locked_version_keeps_its_data(manager):
    seed.seed_iam_engine(actor=f.ADMIN)
    secret = f.iam_secret(group=create_group(name="iam-locks"), reuse=True, name="ci-key")
    sid = str(secret.pk)
    manager.create_secret_locks_bulk(id=sid, locks=[_lock("deploy-bot")])
    exc = api_error(lambda: manager.delete_secret_version_data(secret_id=sid, id="current"))
    assert exc.status_code == 412 and "deploy-bot" in exc.message
    current = SecretVersion.objects.get(secret=secret, alias="current")
    assert current.payload_available and f.api_key_of(current) is not None


def test_custom_credentials_with_an_open_task_cannot_be_locked(manager, cloud):
    secret = custom_credentials_secret_create(
        actor=cloud["actor"],
        name="pending-token",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    assert secret.tasks.filter(status=TaskStatus.QUEUED).exists()
    exc = api_error(
        lambda: manager.create_secret_locks_bulk(id=str(secret.pk), locks=[_lock("consumer")])
    )
    assert exc.status_code == 409 and "tasks" in exc.message
    exc = api_error(
        lambda: manager.create_secret_locks_bulk(
            id=str(secret.pk), locks=[_lock("consumer")], mode="remove_previous_and_delete"
        )
    )
    assert exc.status_code == 400 and "custom credentials" in exc.message
    assert exc.http_response.json()["errors"][0]["target"]["name"] == "mode"
    assert not SecretLock.objects.exists()


@pytest.mark.parametrize(
    ("lock", "target"),
    [
        ({"name": "-bad name-"}, "locks.0.name"),
        ({"name": "x"}, "locks.0.name"),
        ({"name": "a" * 65}, "locks.0.name"),
        ({"name": "ok-name", "description": "d" * 1025}, "locks.0.description"),
        ({"name": "ok-name", "attributes": "not-an-object"}, "locks.0.attributes"),
        ({"name": "ok-name", "colour": "red"}, "locks.0.colour"),
        ({}, "locks.0.name"),
    ],
)
def test_invalid_locks_are_400_naming_the_field(manager, lock, target):
    secret = create_secret(name="validated")
    exc = api_error(lambda: manager.create_secret_locks_bulk(id=str(secret.pk), locks=[lock]))
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"] == {"type": "field", "name": target}
    assert not SecretLock.objects.exists()


def test_bad_mode_empty_list_and_duplicate_names_are_400(manager):
    secret = create_secret(name="validated-too")
    sid = str(secret.pk)
    exc = api_error(lambda: manager.create_secret_locks_bulk(id=sid, locks=[_lock("a1")], mode="x"))
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"] == {"type": "parameter", "name": "mode"}
    assert api_error(lambda: manager.create_secret_locks_bulk(id=sid, locks=[])).status_code == 400
    exc = api_error(
        lambda: manager.create_secret_locks_bulk(id=sid, locks=[_lock("twice"), _lock("twice")])
    )
    assert exc.status_code == 400 and "twice" in exc.message


def test_roles_too_weak_are_403_and_strangers_and_unknown_ids_404(
    manager, writer, reader, stranger_sdk
):
    secret = create_secret(name="guarded")
    sid = str(secret.pk)
    for weak in (reader, writer):
        exc = api_error(lambda c=weak: c.create_secret_locks_bulk(id=sid, locks=[_lock("mine")]))
        assert exc.status_code == 403 and "Manager" in exc.message
    manager.create_secret_locks_bulk(id=sid, locks=[_lock("theirs")])
    exc = api_error(lambda: writer.delete_secret_locks_bulk(id=sid))
    assert exc.status_code == 403
    exc = api_error(
        lambda: reader.create_secret_version_locks_bulk(
            secret_id=sid, id="current", locks=[_lock("mine")]
        )
    )
    assert exc.status_code == 403
    assert reader.list_secret_locks(id=sid).get_result()["total_count"] == 1
    assert SecretLock.objects.filter(name="theirs").exists()

    assert api_error(lambda: stranger_sdk.list_secret_locks(id=sid)).status_code == 404
    assert stranger_sdk.list_secrets_locks().get_result()["total_count"] == 0
    unknown = "0f0e0d0c-0b0a-4908-8706-050403020100"
    assert api_error(lambda: manager.list_secret_locks(id=unknown)).status_code == 404
    exc = api_error(lambda: manager.create_secret_locks_bulk(id=unknown, locks=[_lock("x1")]))
    assert exc.status_code == 404
    exc = api_error(
        lambda: manager.create_secret_version_locks_bulk(
            secret_id=sid, id=unknown, locks=[_lock("x1")]
        )
    )
    assert exc.status_code == 404
    exc = api_error(lambda: manager.list_secret_version_locks(secret_id=sid, id="previous"))
    assert exc.status_code == 404
    exc = api_error(lambda: manager.delete_secret_version_locks_bulk(secret_id=sid, id=unknown))
    assert exc.status_code == 404


def test_a_locked_secret_cannot_be_deleted_even_with_force_until_its_locks_go(manager):
    secret = create_secret(name="held-secret", payload=CANARY)
    manager.create_secret_locks_bulk(id=str(secret.pk), locks=[_lock("legal-hold")])
    for force in (False, True):
        exc = api_error(lambda f=force: manager.delete_secret(id=str(secret.pk), force_delete=f))
        assert exc.status_code == 412
        assert "legal-hold (version 1)" in exc.message and CANARY not in exc.message
    manager.delete_secret_locks_bulk(id=str(secret.pk), name=["legal-hold"])
    assert manager.delete_secret(id=str(secret.pk)).get_status_code() == 204
