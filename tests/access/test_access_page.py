"""The Access page (/cloud/iam/access/): who sees which policies, assigning and revoking roles
with and without htmx, 422s with field errors, refusals, and a revoked role refused at once in
the console and in the API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.models import AuditEvent
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessPolicy, Role
from tests.access.conftest import SETUP
from tests.factories import create_secret, create_user, grant

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
URL = "/cloud/iam/access/"


def _assign(subject: str, role: str, scope: str) -> dict[str, str]:
    return {"assign-subject": subject, "assign-role": role, "assign-scope": scope}


def _table(html: str) -> str:
    """The policies table only (the form's choices name every user and scope)."""
    return html[html.index('<table class="data" id="policy-table"') : html.index("</table>")]


def _revoke_url(policy: AccessPolicy) -> str:
    return reverse("cloud:iam-policy-revoke", args=[policy.pk])


def test_the_url_and_the_links(signed_in, manager, group_manager):
    assert reverse("cloud:iam-access") == URL
    boss = signed_in(manager)
    html = boss.get(reverse("cloud:iam-service-ids")).content.decode()
    assert f'href="{URL}"' in html  # the IAM tabs
    # A Manager of one group has no IAM link, but the navigation's Access link.
    lead = signed_in(group_manager).get(reverse("secrets:list")).content.decode()
    assert f'href="{URL}"' in lead and reverse("cloud:iam-service-ids") not in lead


def test_who_may_open_the_page(signed_in, client, manager, group_manager, reader):
    assert signed_in(manager).get(URL).status_code == 200
    assert signed_in(group_manager).get(URL).status_code == 200
    refused = signed_in(reader).get(URL)
    assert refused.status_code == 403
    assert "Manager role on this instance or on a secret group" in refused.content.decode()
    stranger = signed_in(create_user(username="nobody")).post(
        URL, _assign("x", "Reader", "instance")
    )
    assert stranger.status_code == 403
    anonymous = client.get(URL)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_an_instance_manager_sees_every_scope(signed_in, manager, group_a, group_b, service_id):
    iam.policy_grant(actor=SETUP, role="Reader", secret_group_id=group_b.pk, service_id=service_id)
    html = signed_in(manager).get(URL).content.decode()
    for label in ("The whole instance", "Secret group group-a", "Secret group group-b"):
        assert label in html
    assert "deploy-bot" in html and "boss" in html


def test_a_group_manager_sees_and_edits_only_their_groups(
    signed_in, manager, group_manager, group_a, group_b, service_id
):
    on_b = iam.policy_grant(
        actor=SETUP, role="Writer", secret_group_id=group_b.pk, service_id=service_id
    )
    lead = signed_in(group_manager)
    page = lead.get(URL).content.decode()
    html = _table(page)
    assert "Secret group group-a" in html and "lead-a" in html
    assert "group-b" not in html and "The whole instance" not in html and "boss" not in html
    assert "group-b" not in page and "The whole instance" not in page  # no such scope to choose
    # Another group's policy, or the instance's, does not exist for them.
    instance_policy = AccessPolicy.objects.get(user=iam.iam_user_for(manager))
    for policy in (on_b, instance_policy):
        assert lead.get(_revoke_url(policy)).status_code == 404
        assert lead.post(_revoke_url(policy)).status_code == 404
    assert AccessPolicy.objects.filter(pk__in=[on_b.pk, instance_policy.pk]).count() == 2
    # Assigning on group B or on the instance is not a choice they have.
    for scope in (group_b.pk, "instance"):
        response = lead.post(URL, _assign(f"service_id:{service_id.pk}", "Reader", scope))
        assert response.status_code == 422
        assert "Select a valid choice" in response.content.decode()
    assert AccessPolicy.objects.filter(service_id=service_id).count() == 1
    # Their own group: fine.
    response = lead.post(URL, _assign(f"service_id:{service_id.pk}", "Reader", group_a.pk))
    assert response.status_code == 302
    assert AccessPolicy.objects.filter(
        service_id=service_id, role="Reader", secret_group=group_a
    ).exists()


@pytest.mark.parametrize("kind", ["user", "service_id", "access_group"])
def test_assign_without_javascript(signed_in, manager, group_a, service_id, access_group, kind):
    target = create_user(username="newcomer")
    value = {
        "user": f"user:{target.pk}",
        "service_id": f"service_id:{service_id.pk}",
        "access_group": f"access_group:{access_group.pk}",
    }[kind]
    boss = signed_in(manager)
    response = boss.post(URL, _assign(value, "SecretsReader", group_a.pk))
    assert response.status_code == 302 and response["Location"] == URL
    page = boss.get(URL).content.decode()
    name = {"user": "newcomer", "service_id": "deploy-bot", "access_group": "ops-team"}[kind]
    assert f"{name} now holds SecretsReader on secret group group-a." in page
    policy = AccessPolicy.objects.get(role="SecretsReader", secret_group=group_a)
    assert policy.subject_kind == kind
    assert AuditEvent.objects.filter(action="iam.policy.grant", object_id=str(policy.pk)).exists()


def test_assign_with_htmx_swaps_the_region(signed_in, manager, service_id):
    response = signed_in(manager).post(
        URL, _assign(f"service_id:{service_id.pk}", "Reader", "instance"), headers=HX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="access-region"')
    assert "deploy-bot now holds Reader on the instance." in html
    assert 'data-testid="policy-row"' in html and "<html" not in html


def test_bad_input_is_a_422_with_field_errors(signed_in, manager, service_id):
    boss = signed_in(manager)
    response = boss.post(URL, {"assign-role": "Owner", "assign-scope": "nowhere"})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_assign-subject_error"' in html
    assert 'id="id_assign-role_error"' in html and 'id="id_assign-scope_error"' in html
    assert "There are 3 problems" in html
    # With htmx: the region, with the same errors.
    response = boss.post(URL, {"assign-role": "Reader"}, headers=HX)
    assert response.status_code == 422
    assert 'id="id_assign-subject_error"' in response.content.decode()
    assert not AccessPolicy.objects.filter(service_id=service_id).exists()


def test_a_duplicate_is_refused_clearly(signed_in, manager, service_id):
    iam.policy_grant(actor=SETUP, role="Writer", service_id=service_id)
    response = signed_in(manager).post(
        URL, _assign(f"service_id:{service_id.pk}", "Writer", "instance")
    )
    assert response.status_code == 422
    assert "deploy-bot already holds Writer on the instance." in response.content.decode()
    assert AccessPolicy.objects.filter(service_id=service_id).count() == 1


def test_filters_by_scope_and_kind(signed_in, manager, group_a, service_id):
    iam.policy_grant(actor=SETUP, role="Reader", secret_group_id=group_a.pk, service_id=service_id)
    boss = signed_in(manager)
    html = _table(boss.get(URL, {"scope": group_a.pk}).content.decode())
    assert "deploy-bot" in html and "The whole instance" not in html and "boss" not in html
    html = _table(boss.get(URL, {"kind": "user"}).content.decode())
    assert "boss" in html and "deploy-bot" not in html
    partial = boss.get(URL, {"kind": "service_id"}, headers=HX).content.decode()
    assert partial.lstrip().startswith('<div id="access-region"') and "deploy-bot" in partial
    assert boss.get(URL, {"scope": "bogus"}).status_code == 200  # ignored, every scope shown


def test_revoke_confirm_then_revoke_without_javascript(signed_in, manager, service_id):
    policy = iam.policy_grant(actor=SETUP, role="Reader", service_id=service_id)
    boss = signed_in(manager)
    confirm = boss.get(_revoke_url(policy), {"back": f"{URL}?kind=service_id"})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert (
        "Revoke <strong>Reader</strong> from <strong>deploy-bot</strong> on the instance?" in html
    )
    assert "<html" in html and 'value="/cloud/iam/access/?kind=service_id"' in html
    assert AccessPolicy.objects.filter(pk=policy.pk).exists()  # a GET changes nothing
    response = boss.post(_revoke_url(policy), {"back": f"{URL}?kind=service_id"})
    assert response.status_code == 302 and response["Location"] == f"{URL}?kind=service_id"
    assert not AccessPolicy.objects.filter(pk=policy.pk).exists()
    assert "Reader revoked from deploy-bot on the instance." in boss.get(URL).content.decode()
    assert AuditEvent.objects.filter(action="iam.policy.revoke", object_id=str(policy.pk)).exists()


def test_revoke_with_htmx_replaces_the_row_then_the_region(signed_in, manager, service_id):
    policy = iam.policy_grant(actor=SETUP, role="Reader", service_id=service_id)
    boss = signed_in(manager)
    row = boss.get(_revoke_url(policy), {"back": URL}, headers=HX).content.decode()
    assert row.lstrip().startswith(f'<tr id="policy-{policy.pk}"') and "<html" not in row
    response = boss.post(_revoke_url(policy), {"back": URL}, headers=HX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#access-region" and response["HX-Reswap"] == "outerHTML"
    assert "Reader revoked from deploy-bot on the instance." in response.content.decode()
    assert not AccessPolicy.objects.filter(pk=policy.pk).exists()


def test_the_last_manager_is_refused_in_place(signed_in, manager):
    own = AccessPolicy.objects.get(user=iam.iam_user_for(manager))
    boss = signed_in(manager)
    for headers in ({}, HX):
        response = boss.post(_revoke_url(own), {"back": URL}, headers=headers)
        assert response.status_code == 422
        assert "the last person with the Manager role" in response.content.decode()
    assert AccessPolicy.objects.filter(pk=own.pk).exists()
    denied = AuditEvent.objects.filter(action="iam.policy.revoke", outcome="denied")
    assert denied.count() == 2 and denied.first().detail["reason"] == "last instance Manager"


def test_stepping_down_leaves_the_page(signed_in, manager, group_manager):
    own = AccessPolicy.objects.get(user=iam.iam_user_for(group_manager))
    lead = signed_in(group_manager)
    response = lead.post(_revoke_url(own), headers=HX)
    assert response.status_code == 200 and response["HX-Redirect"] == "/"
    assert lead.get(URL).status_code == 403


def test_a_revoked_role_is_refused_at_once_in_the_console(signed_in, manager, group_a):
    secret = create_secret(name="payroll", group=group_a)
    viewer = create_user(username="auditor")
    grant(viewer, "Reader", group=group_a)
    policy = AccessPolicy.objects.get(user=iam.iam_user_for(viewer))
    auditor = signed_in(viewer)
    assert auditor.get(reverse("secrets:detail", args=[secret.pk])).status_code == 200
    assert signed_in(manager).post(_revoke_url(policy)).status_code == 302
    assert auditor.get(reverse("secrets:detail", args=[secret.pk])).status_code == 404
    assert "payroll" not in auditor.get(reverse("secrets:list")).content.decode()


def test_a_revoked_role_is_refused_at_once_in_the_api(signed_in, manager, group_a, service_id):
    secret = create_secret(name="api-payroll", group=group_a)
    _, value = iam.api_key_create(actor=SETUP, name="bot-key", service_id=service_id)
    policy = iam.policy_grant(
        actor=SETUP, role="SecretsReader", secret_group_id=group_a.pk, service_id=service_id
    )
    api = Client()
    token = api.post(
        reverse("iam-token"),
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": value},
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    url = reverse("api-v2:get_secret", args=[secret.pk])
    assert api.get(url, headers=auth).status_code == 200
    assert signed_in(manager).post(_revoke_url(policy)).status_code == 302
    # The same token, at once: its service ID no longer holds a role there.
    assert api.get(url, headers=auth).status_code in (403, 404)


def test_the_role_help_and_choices_on_the_form(signed_in, manager, service_id):
    html = signed_in(manager).get(URL).content.decode()
    for role in Role.values:
        assert f'value="{role}"' in html
    assert "reports task results, nothing else" in html
    assert '<optgroup label="Service IDs">' in html and '<optgroup label="Users">' in html
    assert f'value="service_id:{service_id.pk}"' in html
