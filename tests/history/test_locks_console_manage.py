"""Managing secret locks from the Versions tab: Add lock on the current and previous versions
(with the API's modes), Remove with a confirmation step, both through the locks service, for the
Manager role only; and a removed lock no longer blocks Delete or Rotate."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.models import AuditEvent
from secrets_app.models import Secret, SecretLock, SecretTask, SecretVersion, TaskStatus
from secrets_app.services.locks import locks_create
from secrets_app.services.rotation import SYSTEM_PRINCIPAL, secret_rotate
from tests.history.conftest import CANARY

pytestmark = pytest.mark.django_db

LIVE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "tab-live"}
POLL = {**LIVE, "HTTP_HX_TRIGGER": "tab-live"}
HEADERS = [pytest.param({}, id="plain"), pytest.param(LIVE, id="htmx")]


def _rotated(secret: Secret, times: int = 1) -> Secret:
    for n in range(times):
        secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=secret.pk, payload=f"value-{n + 2}")
    return secret


def _version(secret: Secret, alias: str | None = None, serial: int | None = None) -> SecretVersion:
    if serial is not None:
        return secret.versions.get(serial=serial)
    return secret.versions.get(alias=alias)


def _add_url(secret: Secret, version: SecretVersion) -> str:
    return reverse("secrets:lock-add", args=[secret.pk, version.pk])


def _remove_url(secret: Secret, version: SecretVersion, name: str) -> str:
    return reverse("secrets:lock-remove", args=[secret.pk, version.pk, name])


def _lock(secret: Secret, name: str, version: str = "current") -> None:
    locks_create(
        principal=SYSTEM_PRINCIPAL, secret_id=secret.pk, version=version, locks=[{"name": name}]
    )


def _names(version: SecretVersion) -> list[str]:
    return sorted(version.locks.values_list("name", flat=True))


def _row(html: str, serial: int) -> str:
    start = html.index(f'id="history-version-{serial}"')
    end = html.find('id="history-version-', start + 1)
    return html[start : end if end > 0 else len(html)]


# ---------------------------------------------------------------------------------------------
# Who sees the buttons


def test_only_a_manager_sees_add_lock_on_current_and_previous_and_remove(clients, arbitrary):
    _rotated(arbitrary, 2)
    _lock(arbitrary, "billing-app", version="previous")
    url = reverse("secrets:versions", args=[arbitrary.pk])
    html = clients["Manager"].get(url).content.decode()
    assert html.count('data-testid="lock-add"') == 2
    assert 'data-testid="lock-add"' in _row(html, 3) and 'data-testid="lock-add"' in _row(html, 2)
    assert 'data-testid="lock-add"' not in _row(html, 1)
    previous = _version(arbitrary, "previous")
    assert _remove_url(arbitrary, previous, "billing-app") in _row(html, 2)
    for role in ("Reader", "SecretsReader", "Writer"):
        page = clients[role].get(url).content.decode()
        assert "billing-app" in page
        assert 'data-testid="lock-add"' not in page and "/locks/" not in page, role


def test_the_delete_option_is_offered_on_the_current_version_of_a_type_that_allows_it(
    clients, arbitrary, custom
):
    _rotated(arbitrary)
    html = clients["owner"].get(reverse("secrets:versions", args=[arbitrary.pk])).content.decode()
    assert 'value="remove_previous_and_delete"' in _row(html, 2)
    assert 'value="remove_previous_and_delete"' not in _row(html, 1)
    assert 'value="remove_previous"' in _row(html, 1)
    custom_html = clients["owner"].get(reverse("secrets:versions", args=[custom.pk]))
    assert 'value="remove_previous"' in custom_html.content.decode()
    assert 'value="remove_previous_and_delete"' not in custom_html.content.decode()


# ---------------------------------------------------------------------------------------------
# Add lock


@pytest.mark.parametrize("headers", HEADERS)
def test_add_a_lock_with_description_and_attributes(clients, arbitrary, headers):
    current = _version(arbitrary, "current")
    response = clients["Manager"].post(
        _add_url(arbitrary, current),
        {
            "name": "billing-app",
            "description": "Billing reads it",
            "attributes": '{"deployment": "billing-eu"}',
            "mode": "",
        },
        **headers,
    )
    lock = SecretLock.objects.get(secret=arbitrary)
    assert (lock.version_id, lock.name, lock.description) == (
        current.pk,
        "billing-app",
        "Billing reads it",
    )
    assert lock.attributes == {"deployment": "billing-eu"}
    event = AuditEvent.objects.get(action="secret.lock_create", object_id=str(arbitrary.pk))
    assert event.detail["locks"] == ["billing-app"]
    if headers:
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html and 'id="tab-live"' in html
        assert "Lock billing-app added to version 1." in html
        assert "billing-app" in _row(html, 1) and "billing-eu" in _row(html, 1)
        assert "<summary autofocus>" in html  # the focus returns to Add lock
    else:
        assert response.status_code == 302
        assert response["Location"] == reverse("secrets:versions", args=[arbitrary.pk])
        page = clients["Manager"].get(response["Location"]).content.decode()
        assert "Lock billing-app added to version 1." in page
    assert CANARY not in response.content.decode()


def test_adding_a_name_the_version_holds_updates_that_lock(clients, arbitrary):
    _lock(arbitrary, "billing-app")
    current = _version(arbitrary, "current")
    response = clients["Manager"].post(
        _add_url(arbitrary, current),
        {"name": "billing-app", "description": "Now documented"},
        **LIVE,
    )
    assert "Lock billing-app on version 1 updated." in response.content.decode()
    assert SecretLock.objects.get(secret=arbitrary).description == "Now documented"


def test_mode_remove_previous_moves_the_lock(clients, arbitrary):
    _rotated(arbitrary)
    _lock(arbitrary, "billing-app", version="previous")
    current, previous = _version(arbitrary, "current"), _version(arbitrary, "previous")
    response = clients["Manager"].post(
        _add_url(arbitrary, current), {"name": "billing-app", "mode": "remove_previous"}, **LIVE
    )
    assert response.status_code == 200
    assert "Lock billing-app added to version 2. It was removed from version 1." in (
        response.content.decode()
    )
    assert (_names(current), _names(previous)) == (["billing-app"], [])


def test_mode_keep_leaves_the_other_versions_lock(clients, arbitrary):
    _rotated(arbitrary)
    _lock(arbitrary, "billing-app", version="previous")
    current, previous = _version(arbitrary, "current"), _version(arbitrary, "previous")
    clients["Manager"].post(_add_url(arbitrary, current), {"name": "billing-app", "mode": ""})
    assert (_names(current), _names(previous)) == (["billing-app"], ["billing-app"])


def test_mode_remove_previous_and_delete_erases_the_previous_versions_data(clients, arbitrary):
    _rotated(arbitrary)
    current, previous = _version(arbitrary, "current"), _version(arbitrary, "previous")
    response = clients["Manager"].post(
        _add_url(arbitrary, current),
        {"name": "deployer", "mode": "remove_previous_and_delete"},
        **LIVE,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lock deployer added to version 2. The data of version 1 was deleted." in html
    previous.refresh_from_db()
    assert not previous.payload_available
    assert CANARY not in html
    event = AuditEvent.objects.get(action="secret.lock_create")
    assert event.detail["data_deleted_version_id"] == str(previous.pk)


def _post_invalid(client: Client, url: str, data: dict[str, Any], headers: dict[str, str]) -> str:
    response = client.post(url, data, **headers)
    assert response.status_code == 422, response.content.decode()[:400]
    html = response.content.decode()
    assert ("<html" in html) == (not headers)
    return html


INVALID = [
    pytest.param({"name": ""}, "name", "Lock name is required.", id="name-missing"),
    pytest.param({"name": "x"}, "name", "must be 2 to 64 characters long", id="name-short"),
    pytest.param({"name": "a" * 65}, "name", "it has 65", id="name-long"),
    pytest.param({"name": "bad name!"}, "name", "is not allowed", id="name-characters"),
    pytest.param(
        {"name": "ok-name", "description": "d" * 1025},
        "description",
        "Description must be at most 1024 characters",
        id="description-long",
    ),
    pytest.param(
        {"name": "ok-name", "attributes": "{not json"},
        "attributes",
        "Not valid JSON",
        id="attributes-syntax",
    ),
    pytest.param(
        {"name": "ok-name", "attributes": "[1, 2]"},
        "attributes",
        "Attributes must be a JSON object",
        id="attributes-not-object",
    ),
    pytest.param(
        {"name": "ok-name", "attributes": '{"blob": "' + "x" * 11000 + '"}'},
        "attributes",
        "at most 10 KB",
        id="attributes-too-big",  # the service's rule, shown beside the field
    ),
    pytest.param(
        {"name": "ok-name", "mode": "bogus"},
        "mode",
        "Choose one of the options shown for this version.",
        id="mode-unknown",
    ),
]


@pytest.mark.parametrize("headers", HEADERS)
@pytest.mark.parametrize(("data", "field", "message"), INVALID)
def test_each_invalid_field_is_a_422_beside_that_field(
    clients, arbitrary, headers, data, field, message
):
    current = _version(arbitrary, "current")
    html = _post_invalid(clients["Manager"], _add_url(arbitrary, current), data, headers)
    errors_id = f"id_lock_v1_{field}_error"
    assert f'id="{errors_id}"' in html
    box = html[html.index(f'id="{errors_id}"') :]
    assert message in box[: box.index("</div>")]
    assert f'aria-describedby="{errors_id}"' in html or f' {errors_id}"' in html
    invalid = html.count('aria-invalid="true"')
    assert invalid == (2 if field == "mode" else 1)  # the mode: each of its radios
    assert f'id="id_lock_v1_{field}{"_0" if field == "mode" else ""}"' in html
    focused = html[html.index(" autofocus") - 400 : html.index(" autofocus")]
    assert f"id_lock_v1_{field}" in focused  # the first field in error takes the focus
    assert "<details" in html and 'data-testid="lock-add" open' in html
    if data["name"] == "ok-name":
        assert 'value="ok-name"' in html  # what was typed is kept
    assert not SecretLock.objects.exists()
    assert not AuditEvent.objects.filter(action="secret.lock_create").exists()


@pytest.mark.parametrize("headers", HEADERS)
def test_the_delete_mode_is_refused_where_it_is_not_offered(clients, arbitrary, custom, headers):
    _rotated(arbitrary)
    previous = _version(arbitrary, "previous")
    data = {"name": "ok-name", "mode": "remove_previous_and_delete"}
    html = _post_invalid(clients["Manager"], _add_url(arbitrary, previous), data, headers)
    assert "Choose one of the options shown for this version." in _row(html, 1)
    custom_current = _version(custom, "current")
    html = _post_invalid(clients["owner"], _add_url(custom, custom_current), data, headers)
    assert "Choose one of the options shown for this version." in html
    assert not SecretLock.objects.exists()


@pytest.mark.parametrize("headers", HEADERS)
def test_a_version_that_is_neither_current_nor_previous_cannot_be_locked(
    clients, arbitrary, headers
):
    _rotated(arbitrary, 2)
    oldest = _version(arbitrary, serial=1)
    html = _post_invalid(clients["Manager"], _add_url(arbitrary, oldest), {"name": "late"}, headers)
    assert "neither current nor previous: only those versions can be locked." in _row(html, 1)
    assert not SecretLock.objects.exists()


@pytest.mark.parametrize("headers", HEADERS)
def test_a_custom_credentials_secret_with_an_open_task_is_refused_in_place(
    clients, custom, headers
):
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=custom.pk)
    assert SecretTask.objects.filter(
        secret=custom, status__in=[TaskStatus.QUEUED, TaskStatus.PROCESSING]
    ).exists()
    current = _version(custom, "current")
    html = _post_invalid(clients["owner"], _add_url(custom, current), {"name": "app"}, headers)
    assert "can be locked only once all its tasks completed" in html
    assert 'role="alert" id="id_lock_v1_errors"' in html
    assert not SecretLock.objects.exists()


def test_a_forged_add_by_a_weaker_role_is_403_and_a_stranger_gets_404(clients, arbitrary):
    url = _add_url(arbitrary, _version(arbitrary, "current"))
    for role in ("Reader", "SecretsReader", "Writer"):
        assert clients[role].post(url, {"name": "forged"}).status_code == 403, role
        assert clients[role].post(url, {"name": "forged"}, **LIVE).status_code == 403, role
        assert clients[role].get(url).status_code == 403, role
    assert clients["stranger"].post(url, {"name": "forged"}).status_code == 404
    assert not SecretLock.objects.exists()
    assert not AuditEvent.objects.filter(action="secret.lock_create").exists()


def test_a_get_of_add_lock_is_the_tab_with_the_form_open_and_a_poll_stops(clients, arbitrary):
    url = _add_url(arbitrary, _version(arbitrary, "current"))
    page = clients["Manager"].get(url)
    assert page.status_code == 200
    assert 'data-testid="lock-add" open' in page.content.decode()
    poll = clients["Manager"].get(url, **POLL)
    assert poll.status_code == 286  # nothing open: the polling stops
    assert "<html" not in poll.content.decode()
    assert 'data-testid="lock-add" open' not in poll.content.decode()


# ---------------------------------------------------------------------------------------------
# Remove


@pytest.mark.parametrize("headers", HEADERS)
def test_remove_asks_first_then_removes_through_the_service(clients, arbitrary, headers):
    _lock(arbitrary, "billing-app")
    _lock(arbitrary, "ci-deploy")
    current = _version(arbitrary, "current")
    url = _remove_url(arbitrary, current, "billing-app")

    confirm = clients["Manager"].get(url, **headers)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert ("<html" in html) == (not headers)
    form = html[html.rindex("<form", 0, html.index('data-testid="lock-remove-confirm"')) :]
    form = form[: form.index("</form>")]
    assert "Remove lock <strong>billing-app</strong> from version 1?" in form
    assert "The version keeps its other lock." in form
    assert 'method="post"' in form and "autofocus" in form
    assert _names(current) == ["billing-app", "ci-deploy"]  # a GET changes nothing

    done = clients["Manager"].post(url, **headers)
    assert _names(current) == ["ci-deploy"]
    event = AuditEvent.objects.get(action="secret.lock_delete", object_id=str(arbitrary.pk))
    assert event.detail["locks"] == [{"name": "billing-app", "serial": 1}]
    if headers:
        assert done.status_code == 200
        body = done.content.decode()
        assert "Lock billing-app removed from version 1." in body
        assert (
            "lock-remove-confirm" not in body
            and "billing-app" not in _row(body, 1).split("</ul>")[0]
        )
    else:
        assert done.status_code == 302
        assert done["Location"] == reverse("secrets:versions", args=[arbitrary.pk])
        page = clients["Manager"].get(done["Location"]).content.decode()
        assert "Lock billing-app removed from version 1." in page


def test_removing_the_last_lock_says_so_and_a_missing_lock_changes_nothing(clients, arbitrary):
    _rotated(arbitrary)
    _lock(arbitrary, "legacy", version="previous")
    previous = _version(arbitrary, "previous")
    url = _remove_url(arbitrary, previous, "legacy")
    confirm = clients["Manager"].get(url).content.decode()
    assert "Version 1 then holds no lock: a rotation or a restore may delete its data." in confirm
    done = clients["Manager"].post(url, **LIVE).content.decode()
    assert "Lock legacy removed from version 1. The secret holds no lock now." in done

    again = clients["Manager"].post(url, **LIVE)
    assert again.status_code == 200
    assert "Version 1 holds no lock named legacy: nothing to remove." in again.content.decode()
    assert AuditEvent.objects.filter(action="secret.lock_delete").count() == 1
    poll = clients["Manager"].get(url, **POLL)
    assert poll.status_code == 286 and "nothing to remove" not in poll.content.decode()


def test_a_forged_remove_by_a_weaker_role_is_403(clients, arbitrary):
    _lock(arbitrary, "billing-app")
    url = _remove_url(arbitrary, _version(arbitrary, "current"), "billing-app")
    for role in ("Reader", "SecretsReader", "Writer"):
        assert clients[role].post(url).status_code == 403, role
        assert clients[role].post(url, **LIVE).status_code == 403, role
        assert clients[role].get(url).status_code == 403, role
    assert clients["stranger"].post(url).status_code == 404
    assert SecretLock.objects.filter(name="billing-app").exists()
    assert not AuditEvent.objects.filter(action="secret.lock_delete").exists()


# ---------------------------------------------------------------------------------------------
# What a removed lock unblocks


def test_after_the_lock_is_removed_the_delete_page_no_longer_refuses(clients, arbitrary):
    delete_url = reverse("secrets:delete", args=[arbitrary.pk])
    current = _version(arbitrary, "current")
    add = clients["Manager"].post(_add_url(arbitrary, current), {"name": "billing-app"})
    assert add.status_code == 302
    refused = clients["Manager"].get(delete_url).content.decode()
    assert 'data-testid="delete-locked"' in refused and "billing-app" in refused
    assert reverse("secrets:versions", args=[arbitrary.pk]) in refused

    removed = clients["Manager"].post(_remove_url(arbitrary, current, "billing-app"))
    assert removed.status_code == 302
    page = clients["Manager"].get(delete_url).content.decode()
    assert 'data-testid="delete-locked"' not in page
    deleted = clients["Manager"].post(delete_url, {"confirm_name": arbitrary.name})
    assert deleted.status_code == 302 and deleted["Location"] == reverse("secrets:list")
    assert not Secret.objects.filter(pk=arbitrary.pk).exists()


def test_after_the_lock_is_removed_the_rotate_page_no_longer_refuses(clients, arbitrary):
    _rotated(arbitrary)
    rotate_url = reverse("secrets:rotate", args=[arbitrary.pk])
    previous = _version(arbitrary, "previous")
    clients["Manager"].post(_add_url(arbitrary, previous), {"name": "legacy-app"}, **LIVE)
    assert _names(previous) == ["legacy-app"]
    blocked = clients["Manager"].get(rotate_url).content.decode()
    assert 'data-testid="rotate-blocker"' in blocked and "legacy-app" in blocked

    clients["Manager"].post(_remove_url(arbitrary, previous, "legacy-app"), **LIVE)
    page = clients["Manager"].get(rotate_url).content.decode()
    assert 'data-testid="rotate-blocker"' not in page
    rotated = clients["Manager"].post(rotate_url, {"payload": "third-value"})
    assert rotated.status_code == 302
    assert arbitrary.versions.count() == 3
