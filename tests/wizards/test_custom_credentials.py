"""Add secret → Custom credentials, step by step, with the Django client."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.urls import reverse

from console.identity import Actor
from console.models import WizardDraft
from engines_app import services as engine_services
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.iam.models import ServiceId
from engines_app.providers.embedded.iam.services import Principal
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup, SecretState, SecretTask
from secrets_app.services.custom_credentials import secret_task_update
from tests.factories import create_group, create_secret, create_user, grant
from tests.wizards.conftest import WizardDriver

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
KIND = "custom_credentials"

DETAILS = {
    "name": "ci-token",
    "description": "Token for the CI robot",
    "secret_group": "default",
    "labels": "ci, tokens",
}
TOKEN_PARAMS = {"param_user_name": "alice", "param_scope": "admin", "param_expires": "600"}
ALL_TYPES_ENV = {
    "SMIN_LOGIN_SECRET_ID": "type:secret_id, required:true",
    "SMIN_VERBOSE": "type:boolean, required:false",
    "SMIN_PORT": "type:integer, required:true",
    "SMIN_MODE": "type:enum[fast|safe], required:false",
    "SMIN_HOST": "type:string, required:false",
    "SMOUT_VALUE": "type:string, required:true",
}


@pytest.fixture
def world():
    """The seeded embedded cloud, plus a configuration whose job declares every parameter type."""
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key)
    ce.job_create(
        actor=ADMIN, project=project, name="all-types", command=["true"], env=ALL_TYPES_ENV
    )
    engine_services.custom_configuration_create(
        actor=ADMIN,
        name="all-types",
        region=seed.REGION,
        project_id=project.pk,
        job_name="all-types",
        api_key_ref=str(key.pk),
    )
    return {
        "project": project,
        "key": key,
        "group": SecretGroup.objects.get(name=seed.PROVIDER_GROUP),
    }


def text(response) -> str:
    return html.unescape(response.content.decode())


def field_block(page: str, parameter: str) -> str:
    """The markup of one generated parameter input, errors included."""
    match = re.search(rf'<(div|fieldset) [^>]*data-parameter="{parameter}">(.*?)</\1>', page, re.S)
    assert match, f"no input for parameter {parameter}"
    return match.group(2)


def through_parameters(w: WizardDriver, *, configuration: str = "token-provider", params=None):
    assert w.post("details", DETAILS).status_code == 302
    assert w.post("configuration", {"configuration": configuration}).status_code == 302
    assert w.post("parameters", TOKEN_PARAMS if params is None else params).status_code == 302


def through_lease(w: WizardDriver, **kwargs) -> None:
    through_parameters(w, **kwargs)
    assert (
        w.post(
            "lease", {"ttl": "30d", "auto_rotate": "on", "interval": "7", "unit": "day"}
        ).status_code
        == 302
    )


# ---------------------------------------------------------------------------------------------
# Step 1: details


def test_details_get_invalid_and_valid(wizard, world):
    w = wizard(KIND)
    page = w.get("details")
    assert page.status_code == 200 and "<html" in text(page)
    assert 'aria-current="step"' in text(page) and "custom-credentials" in text(page)
    bad = w.post("details", {**DETAILS, "name": "-bad-", "custom_metadata": "[1"})
    assert bad.status_code == 422
    assert "is not allowed" in text(bad) and "Not valid JSON" in text(bad)
    create_secret(name="ci-token")  # an arbitrary secret: names are unique per type only
    good = w.post("details", DETAILS)
    assert good.status_code == 302 and good["Location"] == w.url("configuration")


def test_details_rejects_a_name_taken_by_another_custom_credentials_secret(wizard, world):
    w = wizard(KIND)
    through_lease(w)
    w.post("review", {})
    again = wizard(KIND)
    response = again.post("details", DETAILS)
    assert response.status_code == 422
    assert "Custom credentials secret 'ci-token' already exists" in text(response)


def test_create_a_group_in_context(wizard, world):
    w = wizard(KIND)
    response = w.post(
        "details",
        {**DETAILS, "secret_group": "", "wizard_action": "create-group", "newgroup_name": "robots"},
    )
    group = SecretGroup.objects.get(name="robots")
    assert response.status_code == 200
    assert f'<option value="{group.pk}" selected>' in text(response)
    assert 'value="ci-token"' in text(response)


# ---------------------------------------------------------------------------------------------
# Step 2: configuration


def test_configuration_step_lists_each_configuration_with_its_job_and_region(wizard, world):
    w = wizard(KIND)
    w.post("details", DETAILS)
    page = text(w.get("configuration"))
    assert "token-provider — job token-provider, us-south" in page
    assert "certificate-provider — job certificate-provider, us-south" in page
    assert "all-types — job all-types, us-south" in page
    table = page[page.index('id="configuration-choices"') :]
    assert "user_name" in table and "common_name" in table


def test_configuration_invalid_then_valid(wizard, world):
    w = wizard(KIND)
    w.post("details", DETAILS)
    empty = w.post("configuration", {"configuration": ""})
    assert empty.status_code == 422 and "This field is required." in text(empty)
    missing = w.post("configuration", {"configuration": "no-such-config"})
    assert missing.status_code == 422
    assert "There is no custom credentials configuration named 'no-such-config'" in text(missing)
    good = w.post("configuration", {"configuration": "token-provider"})
    assert good.status_code == 302 and good["Location"] == w.url("parameters")


def test_no_configuration_yet_points_to_add_configuration(wizard, db):
    w = wizard(KIND)
    w.post("details", DETAILS)
    page = text(w.get("configuration"))
    assert "There is no custom credentials configuration yet" in page
    assert "Add configuration" in page and "?tab=custom" in page


# ---------------------------------------------------------------------------------------------
# Step 3: parameters


def test_parameters_are_typed_inputs_with_required_marks_and_formats(wizard, world):
    w = wizard(KIND)
    w.post("details", DETAILS)
    w.post("configuration", {"configuration": "token-provider"})
    page = text(w.get("parameters"))
    user_name = field_block(page, "user_name")
    assert 'type="text"' in user_name and 'aria-required="true"' in user_name
    assert '<span class="req" aria-hidden="true">*</span>' in user_name
    assert "Format: type:string, required:true" in user_name
    scope = field_block(page, "scope")
    assert (
        "<select" in scope
        and '<option value="admin">' in scope
        and '<option value="user">' in scope
    )
    assert 'class="req"' not in scope and "aria-required" not in scope
    assert "Format: type:enum[admin|user], required:false" in scope
    expires = field_block(page, "expires")
    assert 'type="number"' in expires and "Format: type:integer, required:false" in expires


def test_parameters_invalid_messages_land_on_their_inputs(wizard, world):
    w = wizard(KIND, htmx=True)
    w.post("details", DETAILS)
    w.post("configuration", {"configuration": "token-provider"})
    response = w.post(
        "parameters", {"param_user_name": "", "param_scope": "root", "param_expires": "soon"}
    )
    assert response.status_code == 422
    page = text(response)
    assert "<html" not in page and 'data-step="parameters"' in page
    assert "user_name is required." in field_block(page, "user_name")
    assert "scope must be one of admin, user; got 'root'." in field_block(page, "scope")
    assert "expires must be of type integer; got 'soon'." in field_block(page, "expires")
    assert "parameters" not in w.draft.data


def test_parameters_valid_keep_their_json_types(wizard, world):
    w = wizard(KIND)
    through_parameters(w, params={"param_user_name": "alice", "param_expires": "600"})
    assert w.draft.data["parameters"]["param_expires"] == ["600"]
    assert w.get("lease").status_code == 200
    w.post("lease", {})
    body = text(w.get("review"))
    api = json.loads(
        body[
            body.index("POST /api/v2/secrets") + len("POST /api/v2/secrets") : body.index(
                "</code></pre>"
            )
        ]
    )
    assert api["parameters"] == {"user_name": "alice", "expires": 600}
    assert "scope" not in api["parameters"], "an empty optional parameter is not sent"


def test_every_parameter_type_and_the_secret_picker(client, world):
    allowed, hidden = create_group(name="readable"), create_group(name="unreadable")
    login = create_secret(name="login-key", group=allowed)
    create_secret(name="someone-elses", group=hidden)
    user = create_user(username="writer")
    grant(user, "Writer", group=allowed)
    client.force_login(user)
    w = WizardDriver(client, KIND)
    assert w.post("details", {**DETAILS, "secret_group": allowed.pk}).status_code == 302
    assert w.post("configuration", {"configuration": "all-types"}).status_code == 302
    page = text(w.get("parameters"))
    picker = field_block(page, "login_secret_id")
    assert f'<option value="{login.pk}">login-key (Arbitrary, readable)</option>' in picker
    assert "someone-elses" not in page
    assert 'name="paramid_login_secret_id"' in picker
    assert 'type="checkbox"' in field_block(page, "verbose")
    assert '<option value="fast">' in field_block(page, "mode")

    bad = w.post(
        "parameters",
        {"paramid_login_secret_id": "not-a-uuid", "param_port": "80.5", "param_mode": "slow"},
    )
    assert bad.status_code == 422
    page = text(bad)
    assert (
        "login_secret_id must be a secret id (a lowercase UUID); got 'not-a-uuid'."
        in field_block(page, "login_secret_id")
    )
    assert "port must be of type integer; got '80.5'." in field_block(page, "port")
    assert "mode must be one of fast, safe; got 'slow'." in field_block(page, "mode")
    assert 'value="not-a-uuid"' in field_block(page, "login_secret_id"), "what was typed is kept"

    forged = w.post(
        "parameters",
        {"param_login_secret_id": "0b5571f7-21e6-4d4a-8d63-3c5a9b0c5d1e", "param_port": "1"},
    )
    assert forged.status_code == 422 and "not one you can read" in text(forged)

    good = w.post(
        "parameters",
        {
            "param_login_secret_id": str(login.pk),
            "param_port": "8080",
            "param_verbose": "on",
            "param_host": "db.internal",
        },
    )
    assert good.status_code == 302
    w.post("lease", {})
    w.post("review", {})
    secret = Secret.objects.get(name="ci-token")
    assert secret.parameters == {
        "login_secret_id": str(login.pk),
        "verbose": True,
        "port": 8080,
        "host": "db.internal",
    }
    assert type(secret.parameters["port"]) is int and secret.parameters["verbose"] is True


def test_a_typed_secret_id_wins_over_the_picker_and_an_unchecked_box_is_false(wizard, world):
    w = wizard(KIND)
    typed = "0b5571f7-21e6-4d4a-8d63-3c5a9b0c5d1e"
    through_lease(
        w, configuration="all-types", params={"paramid_login_secret_id": typed, "param_port": "-1"}
    )
    w.post("review", {})
    assert Secret.objects.get(name="ci-token").parameters == {
        "login_secret_id": typed,
        "verbose": False,
        "port": -1,
    }


def test_changing_the_configuration_drops_the_old_parameters(wizard, world):
    w = wizard(KIND)
    through_parameters(w)
    assert "parameters" in w.draft.data
    w.post("configuration", {"configuration": "token-provider"})
    assert "parameters" in w.draft.data, "the same configuration keeps them"
    w.post("configuration", {"configuration": "certificate-provider"})
    assert "parameters" not in w.draft.data
    response = w.get("lease")
    assert response.status_code == 302 and response["Location"] == w.url("parameters")


# ---------------------------------------------------------------------------------------------
# Step 4: lease and rotation


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ttl": "2h"}, "between 1 day and 90 days; 2h is 2 hours"),
        ({"ttl": "91d"}, "between 1 day and 90 days"),
        ({"ttl": "soon"}, "is not a duration"),
        ({"auto_rotate": "on", "interval": "2", "unit": "hour"}, "between 6 hours and 3 months"),
        ({"auto_rotate": "on", "interval": "4", "unit": "month"}, "between 6 hours and 3 months"),
        ({"auto_rotate": "on", "interval": "", "unit": "day"}, "Enter how often to rotate."),
        (
            {"ttl": "5d", "auto_rotate": "on", "interval": "10", "unit": "day"},
            "cannot be longer than the lease duration (5 days)",
        ),
    ],
)
def test_lease_invalid(wizard, world, data, message):
    w = wizard(KIND)
    through_parameters(w)
    assert w.get("lease").status_code == 200
    response = w.post("lease", data)
    assert response.status_code == 422 and message in text(response)


def test_lease_is_optional_and_rotation_can_be_six_hours(wizard, world):
    w = wizard(KIND)
    through_parameters(w)
    page = text(w.get("lease"))
    assert "1 day to 90 days" in page and "6 hours to 3 months" in page
    response = w.post("lease", {"auto_rotate": "on", "interval": "6", "unit": "hour"})
    assert response.status_code == 302 and response["Location"] == w.url("review")


# ---------------------------------------------------------------------------------------------
# Step 5: review and finish


def test_review_shows_summary_effects_and_the_api_body(wizard, world):
    w = wizard(KIND)
    through_lease(w)
    page = text(w.get("review"))
    assert "Configuration</dt><dd>token-provider" in page
    assert "token-provider in project credentials-providers (us-south)" in page
    assert "Parameter expires</dt><dd>600" in page and "Parameter scope</dt><dd>admin" in page
    assert "Lease duration</dt><dd>30 days" in page and "every 7 day(s)" in page
    assert "Create the custom credentials secret ci-token in Pre-activation." in page
    assert (
        "Queue a create_credentials task that runs Code Engine job token-provider in project credentials-providers"
        in page
    )
    start = page.index("POST /api/v2/secrets") + len("POST /api/v2/secrets")
    body = json.loads(page[start : page.index("</code></pre>")])
    assert body == {
        "secret_type": "custom_credentials",
        "name": "ci-token",
        "secret_group_id": "default",
        "description": "Token for the CI robot",
        "labels": ["ci", "tokens"],
        "configuration": "token-provider",
        "parameters": {"user_name": "alice", "scope": "admin", "expires": 600},
        "ttl": "30d",
        "rotation": {"auto_rotate": True, "interval": 7, "unit": "day"},
    }
    assert ">Add</button>" in page


def test_finish_without_javascript_redirects_to_the_secret(wizard, world):
    w = wizard(KIND)
    through_lease(w)
    response = w.post("review", {})
    secret = Secret.objects.get(name="ci-token")
    assert response.status_code == 302
    assert response["Location"] == reverse("secrets:detail", args=[secret.pk])
    assert (
        secret.state == SecretState.PRE_ACTIVATION and secret.configuration.name == "token-provider"
    )
    assert secret.ttl_seconds == 30 * 86400 and secret.rotation == {
        "auto_rotate": True,
        "interval": 7,
        "unit": "day",
    }
    assert secret.labels == ["ci", "tokens"]
    task = SecretTask.objects.get(secret=secret)
    assert (task.type, task.trigger, task.status) == (
        "create_credentials",
        "secret_creation",
        "queued",
    )
    assert w.draft.data == {} and w.draft.finished_at is not None


def test_htmx_next_swaps_the_frame_and_finish_redirects_the_client(wizard, world):
    w = wizard(KIND, htmx=True)
    step = w.post("details", DETAILS)
    assert step.status_code == 200 and step["HX-Push-Url"] == w.url("configuration")
    assert "<html" not in text(step) and 'data-step="configuration"' in text(step)
    w.post("configuration", {"configuration": "token-provider"})
    w.post("parameters", TOKEN_PARAMS)
    w.post("lease", {})
    response = w.post("review", {})
    secret = Secret.objects.get(name="ci-token")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("secrets:detail", args=[secret.pk])


def test_full_page_without_htmx_and_fragment_with_it(wizard, world):
    plain, frag = wizard(KIND), wizard(KIND, htmx=True)
    for w in (plain, frag):
        w.post("details", DETAILS)
    assert "<html" in text(plain.get("configuration"))
    fragment = text(frag.get("configuration"))
    assert "<html" not in fragment and fragment.lstrip().startswith('<section id="wizard-frame"')


def test_skip_ahead_redirects_to_the_first_incomplete_step(wizard, world):
    w = wizard(KIND)
    for step in ("configuration", "parameters", "lease", "review"):
        response = w.get(step)
        assert response.status_code == 302 and response["Location"] == w.url("details")
    w.post("details", DETAILS)
    response = w.post("parameters", TOKEN_PARAMS)
    assert response.status_code == 302 and response["Location"] == w.url("configuration")
    w.post("configuration", {"configuration": "token-provider"})
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("parameters")
    assert not Secret.objects.filter(name="ci-token").exists()


def test_double_submit_creates_one_secret(wizard, world):
    w = wizard(KIND)
    through_lease(w)
    first = w.post("review", {})
    second = w.post("review", {})
    assert first["Location"] == second["Location"]
    assert Secret.objects.filter(name="ci-token").count() == 1
    assert SecretTask.objects.filter(secret__name="ci-token").count() == 1


def test_stale_configuration_sends_the_user_back_to_that_step(wizard, world):
    w = wizard(KIND)
    through_lease(w)
    engine_services.configuration_delete(actor=ADMIN, name="token-provider")
    # The review step and the parameters step cope with the missing configuration.
    review = w.get("review")
    assert review.status_code == 200 and "Something changed since you completed" in text(review)
    parameters = w.get("parameters")
    assert parameters.status_code == 200 and "no longer exists" in text(parameters)
    refused = w.post("parameters", TOKEN_PARAMS)
    assert (
        refused.status_code == 422
        and "The configuration &#x27;token-provider&#x27; no longer exists"
        in refused.content.decode()
    )

    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("configuration")
    page = text(w.get("configuration"))
    assert "check that step again" in page
    assert "There is no custom credentials configuration named 'token-provider'" in page
    assert "It may have been deleted" in page
    assert not Secret.objects.filter(name="ci-token").exists()
    # Picking another configuration asks for its parameters again.
    w.post("configuration", {"configuration": "certificate-provider"})
    assert w.get("review")["Location"] == w.url("parameters")


def test_stale_group_at_finish(wizard, world):
    group = create_group(name="short-lived")
    w = wizard(KIND)
    w.post("details", {**DETAILS, "secret_group": group.pk})
    w.post("configuration", {"configuration": "token-provider"})
    w.post("parameters", TOKEN_PARAMS)
    w.post("lease", {})
    SecretGroup.objects.filter(pk=group.pk).delete()
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("details")
    assert "no longer exists" in text(w.get("details"))


def test_a_service_refusal_at_finish_is_a_422_on_review_and_writes_nothing(
    wizard, world, monkeypatch
):
    from console.errors import ConflictError
    from secrets_app.wizards import custom_credentials as module

    def refuse(**kwargs):
        raise ConflictError("The token service is in maintenance; try again later.")

    w = wizard(KIND)
    through_lease(w)
    monkeypatch.setattr(module, "custom_credentials_secret_create", refuse)
    response = w.post("review", {})
    assert response.status_code == 422
    assert "The token service is in maintenance" in text(response)
    assert 'data-step="review"' in text(response)
    assert w.draft.finished_at is None, "the claim is rolled back: the user can try again"
    monkeypatch.undo()
    assert w.post("review", {}).status_code == 302
    assert Secret.objects.filter(name="ci-token").count() == 1


def test_a_name_taken_in_another_tab_sends_the_user_back_to_details(wizard, world):
    w = wizard(KIND)
    through_lease(w)
    # Another tab created a custom credentials secret with the same name meanwhile.
    other = wizard(KIND)
    through_lease(other)
    assert other.post("review", {}).status_code == 302
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("details")


# ---------------------------------------------------------------------------------------------
# Permissions and secrets


def test_groups_without_writer_are_not_offered_and_forged_posts_get_403(client, world):
    allowed, hidden = create_group(name="allowed-group"), create_group(name="hidden-group")
    user = create_user(username="writer")
    grant(user, "Writer", group=allowed)
    # Seen (a Reader there) but not writable: a forged choice is refused with 403.
    grant(user, "Reader", group=hidden)
    client.force_login(user)
    w = WizardDriver(client, KIND)
    page = text(w.get("details"))
    assert "allowed-group" in page and "hidden-group" not in page
    assert "Create a secret group" not in page
    assert w.post("details", {**DETAILS, "secret_group": hidden.pk}).status_code == 403
    forged_group = w.post(
        "details", {**DETAILS, "wizard_action": "create-group", "newgroup_name": "sneaky"}
    )
    assert forged_group.status_code == 403
    assert not SecretGroup.objects.filter(name="sneaky").exists()


def test_writer_losing_access_before_finish_gets_403(client, world):
    group = create_group(name="team")
    user = create_user(username="writer")
    grant(user, "Writer", group=group)
    client.force_login(user)
    w = WizardDriver(client, KIND)
    w.post("details", {**DETAILS, "secret_group": group.pk})
    w.post("configuration", {"configuration": "token-provider"})
    w.post("parameters", TOKEN_PARAMS)
    w.post("lease", {})
    from engines_app.providers.embedded.iam.models import AccessPolicy

    AccessPolicy.objects.filter(secret_group_id=group.pk).delete()
    assert w.post("review", {}).status_code == 403
    assert not Secret.objects.filter(name="ci-token").exists()


def test_someone_elses_draft_is_404(wizard, world, client):
    w = wizard(KIND)
    client.force_login(create_user(username="other"))
    assert client.get(w.url("details")).status_code == 404


def test_the_credentials_never_reach_a_draft(wizard, world):
    w = wizard(KIND)
    # The provider group, where the job's service ID may report task results.
    w.post("details", {**DETAILS, "secret_group": world["group"].pk})
    w.post("configuration", {"configuration": "token-provider"})
    w.post("parameters", TOKEN_PARAMS)
    w.post("lease", {})
    w.post("review", {})
    secret = Secret.objects.get(name="ci-token")
    task = SecretTask.objects.get(secret=secret)
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    canary = "CANARY-custom-credentials-token-42"
    secret_task_update(
        principal=Principal(iam_id=job.iam_id, name=job.name, kind="service_id"),
        secret_id=secret.pk,
        task_id=task.pk,
        body={
            "status": "credentials_created",
            "credentials": {"id": "tok-1", "payload": {"token": canary}},
        },
    )
    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE
    detail = text(w.client.get(reverse("secrets:detail", args=[secret.pk])))
    assert "Active" in detail and canary not in detail
    assert canary not in json.dumps(list(WizardDraft.objects.values("data")))
    # A second wizard, run after the credentials exist, stores nothing of them either.
    again = wizard(KIND)
    again.post("details", {**DETAILS, "name": "ci-token-2"})
    assert canary not in json.dumps(list(WizardDraft.objects.values("data")))
