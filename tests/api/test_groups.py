"""Secret groups through the official SDK: create, list, get, update, delete, and refusals."""

from __future__ import annotations

import pytest

from tests.api.conftest import api_error

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_creates_lists_gets_updates_and_deletes_a_group(manager):
    created = manager.create_secret_group(name="payments", description="Card rails").get_result()
    assert created["name"] == "payments" and created["description"] == "Card rails"
    assert created["created_at"].endswith("Z") and len(created["created_at"]) == 24
    assert created["created_by"].startswith("iam-ServiceId-")

    listed = manager.list_secret_groups().get_result()
    names = {g["name"]: g["id"] for g in listed["secret_groups"]}
    assert names["default"] == "default" and names["payments"] == created["id"]
    assert listed["total_count"] == len(listed["secret_groups"])

    assert manager.get_secret_group(id=created["id"]).get_result()["name"] == "payments"
    patched = manager.update_secret_group(
        id=created["id"], secret_group_patch={"description": "Card and wire rails"}
    ).get_result()
    assert patched["name"] == "payments" and patched["description"] == "Card and wire rails"

    response = manager.delete_secret_group(id=created["id"])
    assert response.get_status_code() == 204
    assert api_error(lambda: manager.get_secret_group(id=created["id"])).status_code == 404


def test_duplicate_names_conflict_and_bad_names_are_400(manager):
    manager.create_secret_group(name="ops")
    exc = api_error(lambda: manager.create_secret_group(name="ops"))
    assert exc.status_code == 409 and "already exists" in exc.message
    exc = api_error(lambda: manager.create_secret_group(name="-bad name-"))
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"] == {"type": "field", "name": "name"}
    exc = api_error(lambda: manager.create_secret_group(name="ok", description="x" * 1025))
    assert exc.status_code == 400 and "description" in exc.message


def test_weaker_roles_are_refused_and_strangers_see_nothing(manager, writer, stranger_sdk):
    group = manager.create_secret_group(name="team-a").get_result()
    exc = api_error(lambda: writer.create_secret_group(name="team-b"))
    assert exc.status_code == 403 and "Manager" in exc.message
    assert api_error(lambda: writer.delete_secret_group(id=group["id"])).status_code == 403
    assert api_error(lambda: stranger_sdk.get_secret_group(id=group["id"])).status_code == 404
    assert stranger_sdk.list_secret_groups().get_result() == {"secret_groups": [], "total_count": 0}
