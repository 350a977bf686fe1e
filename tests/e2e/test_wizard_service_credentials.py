"""Add secret → Service credentials in the browser, with JavaScript and without."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from engines_app.providers.embedded.iam.models import ServiceAuthorization
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ResourceKey, ServiceInstance
from secrets_app.models import Secret
from secrets_app.services import secret_version_payload_read
from secrets_app.services.service_credentials import authorize_service_instance
from tests.e2e.conftest import choose_secret_type, field_error, login, screenshot, wait_for_htmx
from tests.factories import create_user, factory_actor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def start(page: Page, name: str) -> None:
    page.goto("/secrets/")
    page.get_by_role("link", name="Add", exact=True).click()
    choose_secret_type(page, "service_credentials")
    expect(page.get_by_role("heading", name="Details", exact=True)).to_be_visible()
    page.locator("#id_name").fill(name)
    page.locator("#id_description").fill("Made in the browser")
    page.get_by_label("Secret group").select_option(label="default")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Service instance", exact=True)).to_be_visible()


def test_add_service_credentials_through_the_authorize_prompt(
    page: Page, context, js_enabled: bool, live_server
):
    owner = create_user(username="owner", manage_groups=True)
    rc_services.seed_service_instances(actor=factory_actor())
    login(context, owner, live_server)
    mode = "js" if js_enabled else "nojs"
    name = f"backups-{mode}"
    start(page, name)

    # Nothing chosen: a field error on this step.
    page.get_by_role("button", name="Next").click()
    expect(field_error(page, "Select a service instance, or enter its CRN.")).to_be_visible()
    wait_for_htmx(page, js_enabled)  # the swapped-in select must be wired before it is used

    # Choosing a service narrows the instance list: at once with JavaScript, with a button without.
    instance_options = page.locator("#id_instance option")
    expect(instance_options.filter(has_text="redis-sessions")).to_have_count(1)
    page.locator("#id_service").select_option(label="Cloud Object Storage")
    if not js_enabled:
        page.get_by_role("button", name="Show its instances").click()
    wait_for_htmx(page, js_enabled)
    expect(instance_options.filter(has_text="redis-sessions")).to_have_count(0)
    expect(page.locator("#id_service")).to_have_value("cloud-object-storage")
    page.locator("#id_instance").select_option(label="cos-backups (global)")
    page.get_by_role("button", name="Next").click()

    # The authorization prompt previews the grant; its one button is Authorize.
    expect(page.get_by_role("heading", name="Authorize", exact=True)).to_be_visible()
    preview = page.get_by_test_id("authorization-preview")
    cos = ServiceInstance.objects.get(name="cos-backups")
    expect(preview).to_contain_text("Secrets Manager")
    expect(preview).to_contain_text(f"Cloud Object Storage instance cos-backups ({cos.crn})")
    expect(preview).to_contain_text("Key Manager")
    expect(page.get_by_role("radio", name="Key Manager")).to_be_checked()  # a choice, preselected
    expect(page.get_by_role("button", name="Next")).to_have_count(0)
    page.get_by_role("button", name="Authorize").click()

    expect(page.get_by_role("heading", name="Credentials", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/credentials/$"))
    assert ServiceAuthorization.objects.filter(target_resource=cos.crn).count() == 1
    page.get_by_role("button", name="Next").click()
    expect(field_error(page, "Choose an IAM role, or None.")).to_be_visible()
    page.get_by_label("IAM role").select_option(label="Object Writer")
    page.get_by_label("HMAC credentials").check()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Lease and rotation", exact=True)).to_be_visible()
    page.get_by_label("Lease duration (TTL)").fill("12h")
    page.get_by_role("button", name="Next").click()
    expect(field_error(page, "between 1 day and 90 days")).to_be_visible()
    page.get_by_label("Lease duration (TTL)").fill("30d")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    review = page.locator(".review")
    expect(review).to_contain_text(
        f"Create the resource key {name} with the role Object Writer on Cloud Object Storage "
        "instance cos-backups."
    )
    expect(review).to_contain_text("Include HMAC keys")
    page.locator("summary", has_text="Equivalent API request").click()
    expect(page.locator("pre.api-body")).to_contain_text('"HMAC": true')
    screenshot(page, f"service_credentials-review-{mode}")
    page.get_by_role("button", name="Add").click()

    expect(page).to_have_url(re.compile(r"/secrets/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("secret-state")).to_have_text("Active")
    secret = Secret.objects.get(name=name)
    key = ResourceKey.objects.get(name=name)
    assert key.hmac and not key.is_deleted and secret.versions.get().credentials_id == key.crn
    payload = secret_version_payload_read(
        actor=factory_actor(), version_id=secret.versions.get().pk
    )
    assert payload["apikey"] not in page.content()


def test_an_authorized_instance_goes_straight_to_credentials(
    page: Page, context, js_enabled: bool, live_server
):
    owner = create_user(username="owner", manage_groups=True)
    rc_services.seed_service_instances(actor=factory_actor())
    postgres = ServiceInstance.objects.get(name="postgres-orders")
    authorize_service_instance(actor=factory_actor(), instance_crn=postgres.crn)
    login(context, owner, live_server)
    start(page, "orders-db")
    expect(page.locator(".progress")).to_contain_text("Authorize")
    page.locator("#id_crn").fill(postgres.crn)
    page.get_by_role("button", name="Next").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_role("heading", name="Credentials", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/credentials/$"))
    expect(page.locator(".progress")).not_to_contain_text("Authorize")
    expect(page.get_by_label("HMAC credentials")).to_have_count(0)
    page.get_by_label("IAM role").select_option(
        label="None (use the service ID's own access policies)"
    )
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Lease and rotation", exact=True)).to_be_visible()
