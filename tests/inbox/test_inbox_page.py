"""The Tasks page: views, every filter, the grouping, the chart, the badge, and who sees what."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from secrets_app.models import SecretTask, TaskStatus
from tests.inbox.conftest import failed_create

pytestmark = pytest.mark.django_db
URL = reverse("secrets:tasks")


def row_ids(response) -> set[str]:
    html = response.content.decode()
    return {t.pk for t in SecretTask.objects.all() if f'data-task="{t.pk}"' in html}


def test_default_view_lists_unresolved_failures(clients, failures):
    response = clients["Reader"].get(URL)
    assert response.status_code == 200
    expected = {t.pk for t in failures["creates"]} | {failures["delete"].pk}
    assert row_ids(response) == expected
    html = response.content.decode()
    assert "provider said no" in html and "ERR10004" in html
    assert "3 tasks failed and not resolved" in html


@pytest.mark.parametrize(
    ("query", "which"),
    [
        ("code=ERR10004", "creates"),
        ("code=ERR10002", "delete"),
        ("type=delete_credentials", "delete"),
        ("type=create_credentials", "creates"),
        ("trigger=secret_creation", "creates"),
        ("trigger=manual_secret_rotation", "delete"),
        ("configuration=token-provider", "all"),
        ("configuration=certificate-provider", "none"),
        ("age=1d", "all"),
        ("age=older", "none"),
    ],
)
def test_each_filter(clients, failures, query, which):
    response = clients["Reader"].get(f"{URL}?{query}")
    assert response.status_code == 200
    creates = {t.pk for t in failures["creates"]}
    delete = {failures["delete"].pk}
    expected = {
        "creates": creates,
        "delete": delete,
        "all": creates | delete,
        "none": set(),
    }[which]
    assert row_ids(response) == expected


def test_the_group_filter_and_the_age_filter_over_time(clients, failures, people, clock):
    from tests.inbox.conftest import client_for, other_group

    other = other_group("elsewhere")
    outside = failed_create(other, code="ERR10009")
    response = clients["Manager"].get(f"{URL}?group={other.pk}")
    # The Manager of `group` only: the other group is not a choice, so the filter is refused.
    assert response.status_code == 422
    assert outside.pk not in row_ids(response)
    clock.advance(days=31)
    reader = client_for("lc-reader")  # signed in again: the session of 31 days ago expired
    assert row_ids(reader.get(f"{URL}?age=older")) == {
        *[t.pk for t in failures["creates"]],
        failures["delete"].pk,
    }
    assert row_ids(reader.get(f"{URL}?age=30d")) == set()
    assert row_ids(reader.get(f"{URL}?age=7d")) == set()


def test_an_unknown_filter_value_is_a_422(clients, failures):
    response = clients["Reader"].get(f"{URL}?type=nonsense")
    assert response.status_code == 422
    assert "Some filters are not valid" in response.content.decode()


def test_grouped_by_error_code(clients, failures):
    html = clients["Reader"].get(f"{URL}?by=code").content.decode()
    assert html.count('data-testid="code-group"') == 2
    assert "<strong>2 failures:</strong> <code>ERR10004</code> provider said no" in html
    assert "<strong>1 failure:</strong> <code>ERR10002</code>" in html
    assert html.index("ERR10004</code> provider") < html.index("ERR10002</code> provider")


def test_the_chart_counts_failures_per_day_by_code(clients, failures, clock):
    html = clients["Reader"].get(URL).content.decode()
    assert '<svg class="task-chart"' in html
    assert 'aria-label="3 failed tasks in the last 30 days (ERR10004: 2, ERR10002: 1)' in html
    assert html.count('<rect class="series-') == 2  # one day, two codes stacked
    clock.advance(days=29)
    from tests.inbox.conftest import client_for

    html = client_for("lc-reader").get(URL).content.decode()
    assert "3 failed tasks in the last 30 days" in html  # the oldest day still in the window
    clock.advance(days=1)
    html = client_for("lc-reader").get(URL).content.decode()
    assert "No failed tasks in the last 30 days." in html


def test_open_view_shows_queued_and_processing_with_a_timeout_countdown(
    clients, group, custom_world, clock
):
    from tests.lifecycle import factories as f

    queued = f.latest_task(f.custom_secret(group=group))
    running_secret = f.custom_secret(group=group)
    running = f.latest_task(running_secret)
    f.dispatch(running)
    html = clients["Reader"].get(f"{URL}?view=open").content.decode()
    assert row_ids_from(html) == {queued.pk, running.pk}
    assert "waiting for a worker" in html
    assert "times out in 10 min" in html  # token-provider: task_timeout 10m
    clock.advance(minutes=7, seconds=30)
    row = clients["Reader"].get(
        reverse("secrets:task-row", args=[running.pk]), HTTP_HX_REQUEST="true"
    )
    assert row.status_code == 200  # still open: the polling goes on
    assert "times out in 2 min" in row.content.decode()
    clock.advance(minutes=3)
    assert "timing out now" in clients["Reader"].get(f"{URL}?view=open").content.decode()


def row_ids_from(html: str) -> set[str]:
    return {t.pk for t in SecretTask.objects.all() if f'data-task="{t.pk}"' in html}


def test_badge_counts_unresolved_failures_the_user_may_see(clients, failures, people):
    from tests.inbox.conftest import other_group

    failed_create(other_group("hidden-group"))
    reader_page = clients["Reader"].get(reverse("secrets:list")).content.decode()
    assert 'data-testid="task-badge">3<' in reader_page
    assert (
        'data-testid="task-badge"'
        not in clients["nobody"].get(reverse("secrets:list")).content.decode()
    )
    SecretTask.objects.filter(pk=failures["delete"].pk).update(resolution="acknowledged")
    assert (
        'data-testid="task-badge">2<'
        in clients["Reader"].get(reverse("secrets:list")).content.decode()
    )


def test_badge_counts_what_the_inbox_query_counts(clients, failures, owner_client):
    """The badge's hand-written COUNT (services.inbox_reading.unresolved_failed_count) against
    the inbox's own queryset, for every persona: one who sees every group, one group's roles,
    and nobody; with a hidden group's failure, a probe's, a resolved one and an open task."""
    from secrets_app.models import Secret
    from secrets_app.permissions import principal_of
    from secrets_app.services.inbox_reading import unresolved_failed, visible_tasks
    from tests.inbox.conftest import other_group

    failed_create(other_group("hidden-group"))
    probe = failed_create(other_group("probe-group"))
    Secret.objects.filter(pk=probe.secret_id).update(probe=True)
    SecretTask.objects.filter(pk=failures["creates"][0].pk).update(resolution="retried")
    assert SecretTask.objects.exclude(status=TaskStatus.FAILED).exists()

    def badge(client) -> int:
        page = client.get(reverse("secrets:list")).content.decode()
        marker = 'data-testid="task-badge">'
        return int(page.split(marker, 1)[1].split("<", 1)[0]) if marker in page else 0

    expected = {"owner": 3, "Reader": 2, "Manager": 2, "nobody": 0}
    for persona, client in {"owner": owner_client, **clients}.items():
        user = client.get(reverse("secrets:list")).wsgi_request.user
        query = unresolved_failed(visible_tasks(principal_of(user))).count()
        assert badge(client) == query, persona
        if persona in expected:
            assert query == expected[persona], persona


def test_who_sees_what(clients, failures):
    for role in ("Reader", "SecretsReader", "Writer", "Manager"):
        assert row_ids(clients[role].get(URL)) == {
            *[t.pk for t in failures["creates"]],
            failures["delete"].pk,
        }, role
    assert row_ids(clients["nobody"].get(URL)) == set()
    reader = clients["Reader"].get(URL).content.decode()
    assert ">Retry<" not in reader and "Acknowledge" not in reader
    writer = clients["Writer"].get(URL).content.decode()
    assert ">Retry<" in writer and "Give up" in writer


def test_infrastructure_failures_for_instance_managers_only(clients, failures, owner_client):
    from django.utils import timezone
    from django_q.models import Failure

    Failure.objects.create(
        id="0" * 32,
        name="alpha-beta",
        func="secrets_app.tasks.secret_task_run",
        args=("sm-task-very-secret-arg",),
        kwargs={"password": "hunter2-kwarg"},
        result="ConnectionError: token=abcdEFGH1234567890abcdEFGH1234 refused\nTraceback...",
        started=timezone.now(),
        stopped=timezone.now(),
        success=False,
    )
    html = owner_client.get(URL).content.decode()
    assert "Background worker failures" in html
    assert "secrets_app.tasks.secret_task_run" in html
    assert "ConnectionError: token=[redacted] refused" in html
    for leak in ("very-secret-arg", "hunter2", "abcdEFGH1234567890", "Traceback"):
        assert leak not in html
    # A Manager of one group is not an instance admin.
    assert "Background worker failures" not in clients["Manager"].get(URL).content.decode()


def test_query_count_does_not_grow_with_rows(clients, group, custom_world, writer):
    from tests.inbox.conftest import failed_delete

    failed_create(group)
    failed_delete(group, writer)
    with CaptureQueriesContext(connection) as few:
        assert clients["Writer"].get(URL).status_code == 200
    for _ in range(4):
        failed_create(group, code="ERR10005")
    failed_delete(group, writer)
    with CaptureQueriesContext(connection) as many:
        assert clients["Writer"].get(URL).status_code == 200
    assert SecretTask.objects.filter(status=TaskStatus.FAILED, resolution="").count() == 7
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
