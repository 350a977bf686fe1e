"""A choice made while a dependent select is being reloaded is kept (JavaScript on).

Service → instance: choosing a service narrows the instance list with a request. The test holds
that request until the user has gone on: typed in the CRN field and picked an instance. When the
answer arrives, only the instance list is swapped; what was typed stays, the newer instance
choice is kept (it is still offered), and the focus stays where the user is.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from tests.e2e.conftest import choose_secret_type, login, wait_for_htmx, wait_until
from tests.factories import create_user, factory_actor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("js_enabled", [True], ids=["js"], indirect=True)
def test_a_second_choice_made_during_the_reload_is_kept(
    page: Page, context, js_enabled: bool, live_server
):
    rc_services.seed_service_instances(actor=factory_actor())
    cos = ServiceInstance.objects.get(name="cos-backups")
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto("/secrets/new/")
    choose_secret_type(page, "service_credentials")
    page.locator("#id_name").fill("race")
    page.get_by_label("Secret group").select_option(label="default")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#step-heading")).to_have_text("Service instance")
    wait_for_htmx(page, js_enabled)

    held: list[Route] = []
    page.route(
        "**/instance/",
        lambda route: (
            held.append(route)
            if route.request.method == "POST" and "pick-service" in (route.request.post_data or "")
            else route.continue_()
        ),
    )
    page.locator("#id_service").focus()
    page.locator("#id_service").select_option(label="Cloud Object Storage")
    expect(page.locator("#wizard-frame .form-actions button.primary")).to_be_disabled()
    # The button is disabled as htmx starts the request; the route handler runs a moment later.
    wait_until(page, lambda: len(held) == 1, "the narrowing request is held")

    # Meanwhile the user goes on: picks the instance (from the list still shown) and types.
    page.locator("#id_instance").select_option(cos.crn)
    page.locator("#id_crn").fill("crn:v1:typed-meanwhile")
    page.locator("#id_crn").focus()
    held[0].continue_()
    wait_for_htmx(page, js_enabled)

    expect(page.locator("#id_instance option", has_text="redis-sessions")).to_have_count(0)
    expect(page.locator("#id_instance")).to_have_value(cos.crn)
    expect(page.locator("#id_crn")).to_have_value("crn:v1:typed-meanwhile")
    expect(page.locator("#id_crn")).to_be_focused()
    expect(page.locator("#id_service")).to_have_value("cloud-object-storage")
    expect(page.locator("#live-status")).to_contain_text("of Cloud Object Storage.")
