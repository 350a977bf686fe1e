"""Add secret → IAM credentials in the browser, with JavaScript and without.

With JavaScript the secret gets an existing service ID; without, a service ID generated in two
access groups: each mode takes one of the two ways to assign access.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from secrets_app import seed
from secrets_app.models import Secret
from secrets_app.wizards.iam_credentials import ROTATION_NEEDS_REUSE
from tests.e2e.conftest import choose_secret_type, field_error, login, screenshot, wait_for_htmx
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
OTHER_ACCOUNT = "0123456789abcdef0123456789abcdef"


def test_add_iam_credentials(page: Page, context, js_enabled: bool, live_server):
    seed.seed_iam_engine(actor=ADMIN)
    seed.seed_access_groups(actor=ADMIN)
    app = iam.service_id_create(actor=ADMIN, name="app-runner", description="The app")
    login(context, create_user(username="owner", manage_groups=True), live_server)
    mode = "js" if js_enabled else "nojs"
    name = f"deploy-key-{mode}"

    page.goto("/secrets/")
    page.get_by_role("link", name="Add", exact=True).click()
    choose_secret_type(page, "iam_credentials")
    expect(page.get_by_role("heading", name="Details")).to_be_visible()

    # Details, with a secret group created in context.
    page.locator("#id_name").fill(name)
    page.locator("#id_description").fill("Made in the browser")
    page.locator("summary", has_text="Create a secret group").click()
    page.get_by_label("New group name").fill(f"iam-{mode}")
    page.get_by_role("button", name="Create", exact=True).click()
    wait_for_htmx(page, js_enabled)
    expect(page.locator("#id_secret_group")).to_have_value(re.compile(r"[0-9a-f-]{36}"))
    expect(page.locator("#id_secret_group option:checked")).to_have_text(f"iam-{mode}")
    expect(page.locator("#id_name")).to_have_value(name)
    page.get_by_label("Labels").fill("ci, prod")
    page.get_by_role("button", name="Next").click()

    # Lease and reuse: rotation waits for the reuse toggle.
    expect(page.get_by_role("heading", name="Lease and reuse")).to_be_visible()
    expect(page.get_by_text(ROTATION_NEEDS_REUSE)).to_be_visible()
    expect(page.get_by_label("Rotate automatically")).to_be_disabled()
    screenshot(page, f"iam_credentials-lease-{mode}")
    page.get_by_label("Lease duration (TTL)").fill("91d")
    page.get_by_role("switch", name="Reuse IAM credentials until lease expires").check()
    if not js_enabled:
        page.get_by_role("button", name="Update").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text(ROTATION_NEEDS_REUSE)).to_have_count(0)
    expect(page.get_by_label("Lease duration (TTL)")).to_have_value("91d")
    page.get_by_label("Rotate automatically").check()
    page.get_by_label("Rotation interval").fill("30")
    page.get_by_role("button", name="Next").click()
    wait_for_htmx(page, js_enabled)
    expect(
        field_error(page, "The lease duration must be between 1 minute and 90 days")
    ).to_be_visible()
    page.get_by_label("Lease duration (TTL)").fill("60d")
    page.get_by_role("button", name="Next").click()

    # Source account: only the installation's own account can be used.
    expect(page.get_by_role("heading", name="Source account")).to_be_visible()
    page.get_by_label("A specific account").check()
    page.get_by_label("Account ID").fill(OTHER_ACCOUNT)
    page.get_by_role("button", name="Next").click()
    wait_for_htmx(page, js_enabled)
    expect(field_error(page, "This installation's IAM does not manage account")).to_be_visible()
    page.get_by_label("The current account").check()
    page.get_by_role("button", name="Next").click()

    # Assign access: both ways at once is refused, then one of them.
    expect(page.get_by_role("heading", name="Assign access")).to_be_visible()
    page.get_by_label("Service ID", exact=True).select_option(label="app-runner")
    page.get_by_label("developers").check()
    page.get_by_role("button", name="Next").click()
    wait_for_htmx(page, js_enabled)
    expect(field_error(page, "either a service ID or access groups, not both")).to_be_visible()
    screenshot(page, f"iam_credentials-access-{mode}")
    if js_enabled:
        expect(page.get_by_label("Service ID", exact=True)).to_have_value(app.pk)
        page.get_by_label("developers").uncheck()
        effect = f"for service ID app-runner ({app.pk})"
    else:
        page.get_by_label("Service ID", exact=True).select_option(value="")
        page.get_by_label("operators").check()
        effect = "will generate a service ID in access groups developers, operators"
    page.get_by_role("button", name="Next").click()

    # Review, then Add.
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    review = page.locator(".review")
    expect(review).to_contain_text(name)
    expect(review).to_contain_text(f"iam-{mode}")
    expect(review).to_contain_text("every 30 day(s)")
    expect(review).to_contain_text(f"an API key named Secrets-Manager-IAM-Secret-{name}")
    expect(review).to_contain_text(effect)
    page.locator("summary", has_text="Equivalent API request").click()
    expect(page.locator("pre.api-body")).to_contain_text('"reuse_api_key": true')
    screenshot(page, f"iam_credentials-review-{mode}")
    page.get_by_role("button", name="Add").click()

    expect(page).to_have_url(re.compile(r"/secrets/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_test_id("secret-state")).to_have_text("Active")
    secret = Secret.objects.get(name=name)
    assert secret.secret_group.name == f"iam-{mode}" and secret.labels == ["ci", "prod"]
    assert secret.reuse_api_key and secret.rotation["interval"] == 30
    if js_enabled:
        assert secret.service_id == app.pk and secret.service_id_is_static
        assert ApiKey.objects.filter(service_id=app).count() == 1
    else:
        sid = ServiceId.objects.get(pk=secret.service_id)
        names = set(sid.access_groups.values_list("name", flat=True))
        assert sid.managed_by_secrets_manager and names == {"developers", "operators"}
