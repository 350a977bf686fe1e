"""The secret page's tabs: own URLs with and without htmx, live polling while a task is open,
version metadata in place, Restore (IAM credentials only), the timeline and its filters."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.models import AuditEvent
from secrets_app.models import SecretTask, TaskStatus, TaskType
from secrets_app.services.restore import RestoreRefusedError, secret_restore
from secrets_app.services.rotation import SYSTEM_PRINCIPAL, secret_rotate
from tests.history.conftest import CANARY
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db

TABS = ("detail", "versions", "secret-tasks", "timeline")
PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "tab-panel"}
LIVE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "tab-live"}


@pytest.mark.parametrize("tab", TABS)
def test_each_tab_has_its_own_url_with_and_without_htmx(clients, arbitrary, tab):
    url = reverse(f"secrets:{tab}", args=[arbitrary.pk])
    page = clients["Reader"].get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<html" in html and 'id="tab-panel"' in html
    assert f'href="{url}"' in html and 'aria-current="page"' in html
    panel = clients["Reader"].get(url, **PANEL)
    assert panel.status_code == 200
    body = panel.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="tab-panel">')
    assert "HX-Target" in panel["Vary"]


def test_the_canary_is_in_no_tab_diff_or_timeline(clients, arbitrary):
    reveal = clients["SecretsReader"].post(
        reverse("secrets:reveal", args=[arbitrary.pk]), {"version": "current"}
    )
    assert CANARY in reveal.content.decode()  # the POST's answer, and only it
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload=CANARY + "-2")
    urls = [reverse(f"secrets:{tab}", args=[arbitrary.pk]) for tab in TABS]
    urls.append(reverse("secrets:versions-diff", args=[arbitrary.pk]))
    urls.append(reverse("secrets:timeline", args=[arbitrary.pk]) + "?kind=reveals")
    for client in (clients["SecretsReader"], clients["Manager"]):
        for url in urls:
            for headers in ({}, PANEL, LIVE):
                response = client.get(url, **headers)
                assert response.status_code in (200, 286), url
                assert CANARY not in response.content.decode(), url


def test_versions_tab_lists_every_version_newest_first(clients, arbitrary):
    for value in ("b", "c"):
        secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload=value)
    clients["SecretsReader"].post(
        reverse("secrets:reveal", args=[arbitrary.pk]), {"version": "current"}
    )
    html = clients["SecretsReader"].get(reverse("secrets:versions", args=[arbitrary.pk])).content
    html = html.decode()
    rows = [html.index(f'id="history-version-{n}"') for n in (3, 2, 1)]
    assert rows == sorted(rows)
    assert "only the current and previous versions keep their payload." in html
    assert "yes, last" in html  # version 3 downloaded, with when
    assert html.count(">Reveal<span") == 2  # current and previous keep a payload


def test_version_metadata_in_place_is_validated_and_audited(clients, arbitrary):
    version = arbitrary.versions.get()
    url = reverse("secrets:version-metadata-in-place", args=[arbitrary.pk, version.pk])
    for headers in ({}, LIVE):  # in place too: a 422, not a 286 that hides the refusal
        bad = clients["Writer"].post(url, {"version_custom_metadata": "[1, 2"}, **headers)
        assert bad.status_code == 422
        assert 'aria-invalid="true"' in bad.content.decode()
    assert not AuditEvent.objects.filter(action="secret_version.update").exists()
    ok = clients["Writer"].post(url, {"version_custom_metadata": '{"ticket": "OPS-1"}'})
    assert ok.status_code == 302 and ok["Location"].endswith(f"/secrets/{arbitrary.pk}/versions/")
    version.refresh_from_db()
    assert version.version_custom_metadata == {"ticket": "OPS-1"}
    hx = clients["Writer"].post(url, {"version_custom_metadata": '{"ticket": "OPS-2"}'}, **LIVE)
    assert hx.status_code == 286  # nothing open: the tab's live part, and no polling
    assert "Metadata of version 1 saved." in hx.content.decode()
    events = AuditEvent.objects.filter(action="secret_version.update", object_id=str(arbitrary.pk))
    assert events.count() == 2
    assert clients["Reader"].post(url, {"version_custom_metadata": "{}"}).status_code == 403


def test_restore_is_offered_and_done_for_iam_credentials_only(clients, iam, arbitrary):
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=iam.pk)
    previous = iam.versions.get(alias="previous")
    versions_html = clients["Writer"].get(reverse("secrets:versions", args=[iam.pk])).content
    restore_url = reverse("secrets:version-restore", args=[iam.pk, previous.pk])
    assert restore_url in versions_html.decode()
    preview = clients["Writer"].get(restore_url).content.decode()
    assert "Restoring creates <strong>version 3</strong> from version 1" in preview
    assert clients["Reader"].post(restore_url).status_code == 403
    done = clients["Writer"].post(restore_url)
    assert done.status_code == 302
    current = iam.versions.get(alias="current")
    assert current.serial == 3 and current.credentials_id == previous.credentials_id
    assert f.api_key_of(current) is not None  # the restored key was not retired
    assert AuditEvent.objects.filter(action="secret.restore", object_id=str(iam.pk)).exists()
    # Arbitrary: no button, the page says why, the POST and the service refuse.
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload="two")
    old = arbitrary.versions.get(alias="previous")
    html = clients["Writer"].get(reverse("secrets:versions", args=[arbitrary.pk])).content
    assert ">Restore<span" not in html.decode()
    url = reverse("secrets:version-restore", args=[arbitrary.pk, old.pk])
    assert "Only IAM credentials secrets" in clients["Writer"].get(url).content.decode()
    assert clients["Writer"].post(url).status_code == 422
    with pytest.raises(RestoreRefusedError):
        secret_restore(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, version_id=old.pk)


def test_restore_refuses_the_current_version(iam):
    current = iam.versions.get(alias="current")
    with pytest.raises(RestoreRefusedError, match="already the current version"):
        secret_restore(principal=SYSTEM_PRINCIPAL, secret_id=iam.pk, version_id=current.pk)


def test_task_status_history_and_live_polling(clients, custom):
    create = SecretTask.objects.get(secret=custom, type=TaskType.CREATE_CREDENTIALS)
    assert [s["status"] for s in create.status_history] == [
        "queued",
        "processing",
        "credentials_created",
    ]
    rotation = secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=custom.pk).task
    assert rotation is not None
    url = reverse("secrets:secret-tasks", args=[custom.pk])
    page = clients["Reader"].get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page and 'http-equiv="refresh"' in page
    assert clients["Reader"].get(url, **LIVE).status_code == 200
    f.report_failed(rotation)
    rotation.refresh_from_db()
    assert [s["status"] for s in rotation.status_history] == ["queued", "processing", "failed"]
    stopped = clients["Reader"].get(url, **LIVE)
    assert stopped.status_code == 286
    assert "hx-trigger" not in stopped.content.decode()
    timeline = clients["Reader"].get(
        reverse("secrets:timeline", args=[custom.pk]), {"kind": "tasks"}
    )
    html = timeline.content.decode()
    assert "Queued" in html and "Processing" in html and "Failed" in html
    assert "ERR10001: provider said no" in html


def test_a_cancelled_task_records_its_failure_step(custom):
    from secrets_app.services.custom_credentials import secret_task_cancel
    from tests.lifecycle.conftest import principal

    task = secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=custom.pk).task
    assert task is not None
    from tests.factories import create_user

    admin = principal(create_user(username="cancel-admin", manage_groups=True))
    cancelled = secret_task_cancel(principal=admin, secret_id=custom.pk, task_id=task.pk)
    assert cancelled.status == TaskStatus.FAILED
    assert [s["status"] for s in cancelled.status_history] == ["queued", "failed"]


def test_timeline_filters_by_kind(clients, arbitrary):
    clients["SecretsReader"].post(
        reverse("secrets:reveal", args=[arbitrary.pk]), {"version": "current", "reason": "audit"}
    )
    url = reverse("secrets:timeline", args=[arbitrary.pk])
    everything = clients["Reader"].get(url).content.decode()
    assert 'data-kind="versions"' in everything and 'data-kind="reveals"' in everything
    reveals = clients["Reader"].get(url, {"kind": "reveals"}).content.decode()
    assert 'data-kind="reveals"' in reveals and 'data-kind="versions"' not in reveals
    assert "Reason: audit" in reveals
    assert 'value="reveals" checked' in reveals
    both = clients["Reader"].get(url + "?kind=reveals&kind=versions").content.decode()
    assert 'data-kind="reveals"' in both and 'data-kind="versions"' in both
    bad = clients["Reader"].get(url, {"kind": "nonsense"})
    assert bad.status_code == 422 and "Unknown kind: nonsense." in bad.content.decode()


def _reveal_times(client, secret, n: int) -> None:
    url = reverse("secrets:reveal", args=[secret.pk])
    for _ in range(n):
        assert client.post(url, {"version": "current"}).status_code == 200


@pytest.mark.parametrize("tab", ("timeline", "versions"))
def test_query_counts_do_not_grow_with_events(clients, arbitrary, tab):
    client = clients["SecretsReader"]
    url = reverse(f"secrets:{tab}", args=[arbitrary.pk])
    _reveal_times(client, arbitrary, 5)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _reveal_times(client, arbitrary, 45)
    for value in ("v2", "v3", "v4"):
        secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload=value)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    if tab == "timeline":
        assert response.content.decode().count('data-kind="reveals"') == 50
    assert len(many.captured_queries) == len(few.captured_queries)
