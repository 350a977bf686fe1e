"""The Audit page: who may open it (Managers of the instance; 404 for anyone else, on record),
its table, its filters in the URL, its pages, htmx fragments, and bad filters (422)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.audit import audit_record
from console.identity import Actor
from console.models import AuditEvent
from tests.factories import create_group, create_user, grant

pytestmark = pytest.mark.django_db

ALICE = Actor(iam_id="IBMid-0000000101", name="alice")
DEPLOYER = Actor(iam_id="iam-ServiceId-77", name="deployer")


def _event(actor: Actor = ALICE, action: str = "secret.read_payload", **kwargs) -> AuditEvent:
    kwargs.setdefault("object_type", "secret")
    kwargs.setdefault("object_id", "s-1")
    kwargs.setdefault("object_name", "db-password")
    return audit_record(actor=actor, action=action, **kwargs)


def ids(response) -> list[int]:
    """The audit rows the table shows, in order."""
    import re

    return [int(n) for n in re.findall(r'data-audit-id="(\d+)"', response.content.decode())]


def test_a_manager_of_the_instance_sees_the_page_and_its_link(auditor_client):
    event = _event(detail={"version_id": "v-1", "serial": 1})
    response = auditor_client.get("/audit/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/audit/"' in page and "Audit log</a>" in page  # the navigation's link
    assert event.pk in ids(response)
    for shown in ("alice", "secret.read_payload", "db-password", "Allowed", "serial: 1"):
        assert shown in page
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("who", ["reader", "group-manager", "stranger", "staff"])
def test_anyone_else_gets_404_and_the_attempt_is_recorded(who):
    user = create_user(username=who, is_staff=who == "staff")
    if who == "reader":
        grant(user, "Reader")
    elif who == "group-manager":
        grant(user, "Manager", group=create_group(name="only-this"))
    client = Client()
    client.force_login(user)
    assert "/audit/" not in client.get("/secrets/").content.decode()  # no link either
    for url in ("/audit/", "/audit/export.csv", "/audit/export.json"):
        assert client.get(url).status_code == 404
    refused = AuditEvent.objects.filter(outcome="denied", action="audit.read")
    assert refused.count() == 3 and {e.actor_name for e in refused} == {who}
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/audit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_superuser_sees_it_too():
    client = Client()
    client.force_login(create_user(username="root", is_superuser=True))
    assert client.get("/audit/").status_code == 200


def test_each_filter_narrows_the_table(auditor_client):
    read = _event()
    service = _event(actor=DEPLOYER, action="iam.api_key.create", object_type="api_key")
    refused = audit_record(actor=ALICE, action="secret.read", object_type="secret", object_id="s-2")
    AuditEvent.objects.filter(pk=refused.pk).update(outcome="denied")
    old = _event(object_id="s-3")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    today = timezone.now().date()

    def shown(query: str) -> set[int]:
        response = auditor_client.get(f"/audit/?{query}")
        assert response.status_code == 200, response.content[:400]
        return set(ids(response))

    assert shown("actor=alice") == {read.pk, refused.pk, old.pk}
    assert shown(f"actor={DEPLOYER.iam_id}") == {service.pk}
    assert shown("action=iam.api_key.create") == {service.pk}
    assert shown("action=iam.api_key.") == {service.pk}  # a family
    assert shown("action=iam.api_key") == set()  # an exact action otherwise
    assert shown("object_type=secret&object_id=s-2") == {refused.pk}
    assert shown("outcome=denied") == {refused.pk}
    assert shown(
        f"date_from={today - timedelta(days=41)}&date_to={today - timedelta(days=39)}"
    ) == {old.pk}
    assert old.pk not in shown(f"date_from={today}")
    assert shown(f"actor=alice&outcome=allowed&date_to={today}") == {read.pk, old.pk}


def test_filters_stay_in_the_export_links_and_the_pager(auditor_client):
    for n in range(120):
        _event(object_id=f"s-{n}")
    first = auditor_client.get("/audit/?action=secret.read_payload")
    page = first.content.decode()
    assert len(ids(first)) == 50
    assert 'href="/audit/export.csv?action=secret.read_payload"' in page
    assert 'href="/audit/export.json?action=secret.read_payload"' in page
    assert 'href="/audit/?action=secret.read_payload&amp;page=2"' in page
    third = auditor_client.get("/audit/?action=secret.read_payload&page=3")
    assert len(ids(third)) == 20 and 'rel="next"' not in third.content.decode()
    assert 'href="/audit/?action=secret.read_payload&amp;page=2"' in third.content.decode()
    # Newest first, no row on two pages.
    everything = ids(first) + ids(auditor_client.get("/audit/?action=secret.read_payload&page=2"))
    assert everything == sorted(everything, reverse=True) and len(set(everything)) == 100


def test_the_table_costs_the_same_queries_whatever_the_log_size(
    auditor_client, django_assert_max_num_queries
):
    _event()
    auditor_client.get("/audit/")  # warm the session and the IAM identity
    with django_assert_max_num_queries(12) as small:
        auditor_client.get("/audit/")
    AuditEvent.objects.bulk_create(
        AuditEvent(actor_id="IBMid-1", action="x.y", object_type="t", object_id=str(n))
        for n in range(300)
    )
    with django_assert_max_num_queries(len(small.captured_queries)):
        auditor_client.get("/audit/")


def test_htmx_gets_only_the_table(auditor_client, hx):
    _event()
    response = auditor_client.get("/audit/?outcome=allowed", headers=hx)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="audit-table"') and "<html" not in page
    assert response["Vary"].count("HX-Request") >= 1


@pytest.mark.parametrize(
    "query, message",
    [
        ("date_from=2031-05-02&date_to=2031-05-01", "The end date is before the start date."),
        ("date_from=yesterday", "Enter a valid date."),
        ("outcome=maybe", "Select a valid choice."),
        ("page=0", "greater than or equal to 1"),
        ("action=" + "a" * 65, "at most 64 characters"),
    ],
)
def test_bad_filters_are_422_naming_the_problem(auditor_client, hx, query, message):
    _event()
    for headers in ({}, hx):
        response = auditor_client.get(f"/audit/?{query}", headers=headers)
        assert response.status_code == 422
        assert message in response.content.decode()
        assert ids(response) == []
    export = auditor_client.get(f"/audit/export.csv?{query}")
    assert export.status_code == 422 and not export.streaming


def test_an_unknown_export_format_is_404(auditor_client):
    assert auditor_client.get("/audit/export.xml").status_code == 404


def test_the_admin_shows_the_log_only_to_who_may_read_it():
    """A staff user holding Django's view permission on audit events, but not the Manager role,
    does not get the log through /admin/ either."""
    from django.contrib.auth.models import Permission

    staff = create_user(username="staff-viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/console/auditevent/").status_code == 403
    grant(staff, "Manager")
    assert client.get("/admin/console/auditevent/").status_code == 200
