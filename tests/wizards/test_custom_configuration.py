"""Secrets engines → Custom credentials → Add configuration, step by step, with the Django client."""

from __future__ import annotations

import html
import json

import pytest
from django.urls import reverse

from console.errors import LimitExceededError
from console.identity import Actor
from console.models import WizardDraft
from engines_app.models import ConfigType, Configuration
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job
from engines_app.providers.embedded.iam.models import ServiceAuthorization, ServiceId
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup, SecretType
from secrets_app.services import secret_version_payload_read
from secrets_app.services.iam_credentials import iam_credentials_secret_create
from tests.factories import create_group, create_user, factory_actor, grant
from tests.wizards.conftest import WizardDriver

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
KIND = "custom_configuration"
# The Authorize button: the step posts the roles it confirms (a hidden field).
AUTHORIZE = {"authorize": "Viewer and Writer"}
TOKEN_ENV = {
    "SMIN_USER_NAME": "type:string, required:true",
    "SMOUT_TOKEN": "type:string, required:true",
}


@pytest.fixture
def world(db):
    """The seeded cloud (its project is authorized) plus a fresh project that is not."""
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key)
    fresh = ce.project_create(actor=ADMIN, name="fresh-project", region="eu-de")
    ce.job_create(
        actor=ADMIN, project=fresh, name="fresh-job", command=["true"], env=dict(TOKEN_ENV)
    )
    ce.job_create(
        actor=ADMIN,
        project=fresh,
        name="broken-job",
        command=["true"],
        env={"SMIN_HOST": "type:hostname", "SMOUT_TOKEN": "type:string"},
    )
    return {
        "project": project,
        "fresh": fresh,
        "key": key,
        "group": SecretGroup.objects.get(name=seed.PROVIDER_GROUP),
        "job_sid": ServiceId.objects.get(name=seed.JOB_SERVICE_ID),
    }


def seeded_job(world) -> str:
    return f"{world['project'].pk}/token-provider"


def fresh_job(world) -> str:
    return f"{world['fresh'].pk}/fresh-job"


JOB_SEEDED = {"region": "us-south", "location": "this"}


def iam_step(world, **overrides):
    return {"api_key_ref": str(world["key"].pk), "task_timeout": "15m", **overrides}


def text(response) -> str:
    return html.unescape(response.content.decode())


def through_job(w: WizardDriver, world, *, fresh: bool = False):
    assert w.post("name", {"name": "tokens"}).status_code == (200 if w.headers else 302)
    if fresh:
        data = {"region": "eu-de", "location": "this", "job": fresh_job(world)}
    else:
        data = {**JOB_SEEDED, "job": seeded_job(world)}
    # A seeded project is free of the job binding only if no configuration uses the job yet.
    Configuration.objects.filter(code_engine_job_name="token-provider").delete()
    return w.post("job", data)


# --- Step 1: Configuration name ---------------------------------------------------------------


def test_name_step_get_invalid_and_valid(wizard, world):
    w = wizard(KIND)
    page = w.get("name")
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert "Configuration name" in text(page) and 'aria-current="step"' in text(page)
    bad = w.post("name", {"name": "-bad-"})
    assert bad.status_code == 422 and "is not allowed" in text(bad)
    taken = w.post("name", {"name": "token-provider"})
    assert taken.status_code == 422 and "named 'token-provider' already exists" in text(taken)
    done = w.post("name", {"name": "tokens"})
    assert done.status_code == 302 and done["Location"] == w.url("job")


def test_name_step_refuses_the_eleventh_configuration(wizard, world, monkeypatch):
    monkeypatch.setattr("console.validation.CUSTOM_CONFIGURATIONS_MAX", 2)
    w = wizard(KIND)
    response = w.post("name", {"name": "tokens"})
    assert (
        response.status_code == 422
        and "2 custom credentials configurations, the maximum" in text(response)
    )


def test_skip_ahead_redirects_to_the_first_incomplete_step(wizard, world):
    w = wizard(KIND)
    assert w.get("review")["Location"] == w.url("name")
    assert w.post("iam", iam_step(world))["Location"] == w.url("name")
    w.post("name", {"name": "tokens"})
    assert w.get("iam")["Location"] == w.url("job")
    assert w.get("authorize")["Location"] == w.url("job")
    assert w.post("authorize", AUTHORIZE)["Location"] == w.url("job")
    # The authorize step does not apply before a project is chosen that lacks the authorization;
    # asking for it goes to the first open step.
    assert w.get("review")["Location"] == w.url("job")


# --- Step 2: Code Engine job ------------------------------------------------------------------


def test_job_step_lists_jobs_grouped_by_project_and_region(wizard, world):
    w = wizard(KIND)
    w.post("name", {"name": "tokens"})
    page = text(w.get("job"))
    assert '<optgroup label="credentials-providers (us-south)">' in page
    assert '<optgroup label="fresh-project (eu-de)">' in page
    assert "token-provider (used by configuration token-provider)" in page
    assert "Show schema" in page and 'hx-trigger="change"' in page


def test_job_step_errors(wizard, world):
    w = wizard(KIND)
    w.post("name", {"name": "tokens"})
    missing = w.post("job", {"region": "us-south", "location": "this"})
    assert missing.status_code == 422 and "Select the job that creates the credentials" in text(
        missing
    )
    no_region = w.post("job", {"location": "this", "job": fresh_job(world)})
    assert no_region.status_code == 422 and "This field is required" in text(no_region)
    wrong_region = w.post(
        "job", {"region": "us-south", "location": "this", "job": fresh_job(world)}
    )
    assert wrong_region.status_code == 422 and "is in eu-de, not us-south" in text(wrong_region)
    used = w.post("job", {**JOB_SEEDED, "job": seeded_job(world)})
    assert used.status_code == 422 and "already backs configuration token-provider" in text(used)
    broken = w.post(
        "job", {"region": "eu-de", "location": "this", "job": f"{world['fresh'].pk}/broken-job"}
    )
    page = text(broken)
    assert broken.status_code == 422
    assert "Job broken-job declares an invalid schema: SMIN_HOST: unknown type 'hostname'" in page


def test_a_project_in_another_account_is_explained(wizard, world):
    w = wizard(KIND)
    w.post("name", {"name": "tokens"})
    response = w.post(
        "job",
        {
            "region": "us-south",
            "location": "other",
            "other_project_id": "12345678-5120-4a18-832a-4ba122496633",
            "other_job_name": "code-engine-job-name",
        },
    )
    page = text(response)
    assert response.status_code == 422
    assert "The embedded Code Engine only knows the projects of its own account" in page
    empty = w.post("job", {"region": "us-south", "location": "other"})
    assert "Enter the ID of the Code Engine project" in text(empty)
    assert "Enter the name of the job in that project" in text(empty)
    # A project ID the embedded Code Engine does know is accepted in this mode too.
    ok = w.post(
        "job",
        {
            "region": "eu-de",
            "location": "other",
            "other_project_id": world["fresh"].pk,
            "other_job_name": "fresh-job",
        },
    )
    assert ok.status_code == 302 and ok["Location"] == w.url("authorize")


def test_show_schema_filters_the_jobs_by_region_and_shows_the_schema(wizard, world):
    w = wizard(KIND)
    w.post("name", {"name": "tokens"})
    response = w.post(
        "job",
        {
            "region": "eu-de",
            "location": "this",
            "job": fresh_job(world),
            "wizard_action": "show-schema",
        },
    )
    page = text(response)
    assert response.status_code == 200
    assert "credentials-providers (us-south)" not in page and "fresh-project (eu-de)" in page
    assert "Schema declared by job fresh-job" in page
    assert "<code>SMIN_USER_NAME</code>" in page and "<code>SMOUT_TOKEN</code>" in page
    broken = text(
        w.post(
            "job",
            {
                "region": "eu-de",
                "job": f"{world['fresh'].pk}/broken-job",
                "wizard_action": "show-schema",
            },
        )
    )
    assert "This job's declaration is invalid" in broken
    assert "SMIN_HOST: unknown type 'hostname'" in broken
    assert "at least one SMOUT_ variable needs required:true" not in broken  # one problem at a time


def test_show_schema_with_htmx_swaps_the_frame(wizard, world, hx):
    w = wizard(KIND, htmx=True)
    w.post("name", {"name": "tokens"})
    response = w.post(
        "job", {"region": "eu-de", "job": fresh_job(world), "wizard_action": "show-schema"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page and 'id="wizard-frame"' in page
    assert "Schema declared by job fresh-job" in page


def test_an_authorized_project_skips_the_authorize_step(wizard, world):
    w = wizard(KIND)
    response = through_job(w, world)
    assert response.status_code == 302 and response["Location"] == w.url("iam")
    page = text(w.get("iam"))
    assert ">Authorize<" not in page and ">IAM credentials<" in page
    assert w.get("authorize")["Location"] == w.url("iam")


def test_with_htmx_an_authorized_project_goes_straight_to_iam_credentials(wizard, world):
    w = wizard(KIND, htmx=True)
    response = through_job(w, world)
    assert response["HX-Push-Url"] == w.url("iam")
    assert 'data-step="iam"' in response.content.decode()


# --- Step 3: Authorize ------------------------------------------------------------------------


def test_authorize_step_previews_and_creates_the_authorization(wizard, world):
    w = wizard(KIND)
    response = through_job(w, world, fresh=True)
    assert response["Location"] == w.url("authorize")
    page = text(w.get("authorize"))
    fresh = world["fresh"]
    assert "<dt>Source</dt><dd>Secrets Manager</dd>" in page
    assert f"<dt>Target</dt><dd>Code Engine project fresh-project ({fresh.pk})</dd>" in page
    assert "<dt>Roles</dt><dd>Viewer and Writer</dd>" in page and ">Authorize</button>" in page
    not_yet = w.post("authorize", {})
    assert not_yet.status_code == 422 and "click Authorize" in text(not_yet)
    # Authorize creates the authorization, then the wizard resumes at the next step.
    done = w.post("authorize", AUTHORIZE)
    assert done.status_code == 302 and done["Location"] == w.url("iam")
    auth = ServiceAuthorization.objects.get(target_service="codeengine", target_resource=fresh.pk)
    assert auth.source_service == "secrets-manager" and auth.roles == ["Viewer", "Writer"]
    # A second click (a stale page) creates nothing more.
    again = w.post("authorize", AUTHORIZE)
    assert again["Location"] == w.url("iam")
    assert ServiceAuthorization.objects.filter(target_resource=fresh.pk).count() == 1
    iam_page = text(w.get("iam"))
    assert "now authorized to use Code Engine project fresh-project" in iam_page


def test_authorize_with_htmx_continues_to_the_next_step(wizard, world):
    w = wizard(KIND, htmx=True)
    through_job(w, world, fresh=True)
    response = w.post("authorize", AUTHORIZE)
    assert response.status_code == 200 and response["HX-Push-Url"] == w.url("iam")
    assert 'data-step="iam"' in response.content.decode()


def test_authorize_explains_a_job_that_disappeared(wizard, world):
    w = wizard(KIND)
    through_job(w, world, fresh=True)
    Job.objects.filter(name="fresh-job").delete()
    response = w.post("authorize", AUTHORIZE)
    assert response.status_code == 422 and "has no job named 'fresh-job'" in text(response)
    assert not ServiceAuthorization.objects.filter(target_resource=world["fresh"].pk).exists()


# --- Step 4: IAM credentials ------------------------------------------------------------------


@pytest.fixture
def unrotated(world):
    return iam_credentials_secret_create(
        actor=ADMIN,
        name="no-rotation-key",
        ttl="30d",
        reuse_api_key=True,
        service_id=world["job_sid"].pk,
        secret_group_id=world["group"].pk,
    )


def test_iam_step_lists_auto_rotating_secrets_and_says_why_others_are_not(wizard, world, unrotated):
    w = wizard(KIND)
    through_job(w, world)
    page = text(w.get("iam"))
    assert f'<option value="{world["key"].pk}">credentials-provider-job-apikey' in page
    assert f'value="{unrotated.pk}"' not in page
    assert "automatic rotation is off: <strong>no-rotation-key</strong>" in page
    assert 'value="10m"' in page  # the default task timeout


def test_iam_step_errors(wizard, world, unrotated):
    w = wizard(KIND)
    through_job(w, world)
    empty = w.post("iam", {"task_timeout": "10m"})
    assert empty.status_code == 422 and "This field is required" in text(empty)
    forged = w.post("iam", iam_step(world, api_key_ref=str(unrotated.pk)))
    assert forged.status_code == 422 and "no-rotation-key has no automatic rotation" in text(forged)
    gone = w.post("iam", iam_step(world, api_key_ref="d898bb90-82f6-4d61-b5cc-b079b66cfa76"))
    assert gone.status_code == 422 and "no longer exists" in text(gone)
    short = w.post("iam", iam_step(world, task_timeout="2m"))
    assert short.status_code == 422 and "between 5 minutes and 24 hours" in text(short)
    long = w.post("iam", iam_step(world, task_timeout="25h"))
    assert long.status_code == 422 and "between 5 minutes and 24 hours" in text(long)
    ok = w.post("iam", iam_step(world))
    assert ok.status_code == 302 and ok["Location"] == w.url("review")


NEW_IAM = {
    "wizard_action": "create-iam-secret",
    "newiam_name": "made-in-the-wizard",
    "newiam_ttl": "90d",
    "newiam_reuse": "on",
    "newiam_interval": "30",
    "newiam_unit": "day",
    "task_timeout": "20m",
}


def test_create_an_iam_credentials_secret_in_context(wizard, world):
    w = wizard(KIND)
    through_job(w, world)
    data = {**NEW_IAM, "newiam_group": world["group"].pk, "newiam_service_id": world["job_sid"].pk}
    missing = w.post("iam", {**data, "newiam_name": "", "newiam_reuse": ""})
    page = text(missing)
    assert missing.status_code == 422
    assert "Enter a name for the new IAM credentials secret" in page and "Reuse must be on" in page
    assert '<details class="inline-create" open>' in page
    bad_ttl = w.post("iam", {**data, "newiam_ttl": "91d"})
    assert bad_ttl.status_code == 422 and "between 1 minute and 90 days" in text(bad_ttl)
    too_often = w.post("iam", {**data, "newiam_interval": "4", "newiam_unit": "month"})
    assert too_often.status_code == 422 and "3 months" in text(too_often)
    assert not Secret.objects.filter(name="made-in-the-wizard").exists()

    created = w.post("iam", data)
    assert created.status_code == 200
    secret = Secret.objects.get(name="made-in-the-wizard", secret_type=SecretType.IAM_CREDENTIALS)
    assert secret.rotation == {"auto_rotate": True, "interval": 30, "unit": "day"}
    assert secret.reuse_api_key and secret.service_id == world["job_sid"].pk
    page = text(created)
    assert f'<option value="{secret.pk}" selected>' in page and 'value="20m"' in page
    # The API key never reaches the page or a draft.
    value = secret_version_payload_read(actor=factory_actor(), version_id=secret.versions.get().pk)
    api_key = value["api_key"]
    assert api_key not in created.content.decode()
    assert api_key not in json.dumps(list(WizardDraft.objects.values("data")))
    assert w.post("iam", {"api_key_ref": str(secret.pk), "task_timeout": "20m"})[
        "Location"
    ] == w.url("review")


def test_in_context_creation_needs_writer_on_the_group(wizard, world, monkeypatch):
    w = wizard(KIND)
    through_job(w, world)
    hidden = create_group(name="hidden-group")
    monkeypatch.setattr(
        "secrets_app.wizards.configuration_key.writable_groups",
        lambda user: SecretGroup.objects.exclude(pk=hidden.pk),
    )
    page = text(w.get("iam"))
    assert "hidden-group" not in page
    monkeypatch.setattr(
        "secrets_app.wizards.configuration_key.require_secret_create",
        _refuse,
    )
    forged = w.post(
        "iam",
        {**NEW_IAM, "newiam_group": hidden.pk, "newiam_service_id": world["job_sid"].pk},
    )
    assert forged.status_code == 403
    assert not Secret.objects.filter(name="made-in-the-wizard").exists()


def _refuse(user, group_id):
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied("You need the Writer role on this secret group to add secrets to it.")


def test_in_context_creation_explains_a_missing_iam_engine(wizard, world):
    Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).update(disabled=True)
    w = wizard(KIND)
    through_job(w, world)
    page = text(w.get("iam"))
    assert "The IAM credentials engine is not configured or is disabled" in page
    response = w.post(
        "iam",
        {**NEW_IAM, "newiam_group": world["group"].pk, "newiam_service_id": world["job_sid"].pk},
    )
    assert response.status_code == 422 and "it is disabled" in text(response)


# --- Step 5: Review and finish ----------------------------------------------------------------


def complete(w: WizardDriver, world, *, fresh: bool = False) -> None:
    through_job(w, world, fresh=fresh)
    if fresh:
        w.post("authorize", AUTHORIZE)
    assert w.post("iam", iam_step(world))["Location" if not w.headers else "HX-Push-Url"] == w.url(
        "review"
    )


def test_review_lists_every_side_effect_and_the_api_body(wizard, world):
    w = wizard(KIND)
    complete(w, world, fresh=True)
    page = text(w.get("review"))
    fresh = world["fresh"]
    assert (
        f"Will create configuration tokens for job fresh-job in project fresh-project ({fresh.pk})"
        in page
    )
    assert (
        "Granted in this run, when you clicked Authorize" in page
        and "roles Viewer and Writer" in page
    )
    assert "Will set CE_REMOVE_COMPLETED_JOBS=IMMEDIATELY and SM_ACCESS_APIKEY_REF" in page
    assert "credentials-provider-job-apikey as SM_ACCESS_APIKEY" in page
    assert "POST /api/v2/configurations" in page
    assert '"config_type": "custom_credentials_configuration"' in page
    assert f'"project_id": "{fresh.pk}"' in page and '"task_timeout": "15m"' in page
    assert ">Add</button>" in page


def test_review_of_an_authorized_project_grants_nothing(wizard, world):
    w = wizard(KIND)
    complete(w, world)
    page = text(w.get("review"))
    assert "Granted in this run" not in page
    assert "CE_REMOVE_COMPLETED_JOBS stays 1d, as the job sets it" in page


def test_finish_without_javascript_creates_the_configuration(wizard, world):
    w = wizard(KIND)
    complete(w, world, fresh=True)
    done = w.post("review", {})
    config = Configuration.objects.get(name="tokens", config_type=ConfigType.CUSTOM_CREDENTIALS)
    assert done.status_code == 302 and done["Location"] == reverse(
        "engines:config-detail", args=["tokens"]
    )
    assert config.code_engine_project_id == world["fresh"].pk and config.task_timeout == "15m"
    assert config.api_key_ref == world["key"] and [
        p["name"] for p in config.schema["parameters"]
    ] == ["user_name"]
    job = Job.objects.get(name="fresh-job")
    assert job.env["SM_ACCESS_APIKEY_REF"] == config.code_engine_key_ref
    assert job.env["CE_REMOVE_COMPLETED_JOBS"] == "IMMEDIATELY"
    detail = w.client.get(done["Location"])
    assert "Configuration tokens is added. Test it now" in text(detail)
    assert ">Test configuration</button>" in text(detail)


def test_finish_with_htmx_redirects_the_client(wizard, world):
    w = wizard(KIND, htmx=True)
    complete(w, world)
    response = w.post("review", {})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("engines:config-detail", args=["tokens"])


def test_htmx_steps_are_fragments_and_plain_ones_are_pages(wizard, world):
    plain, frag = wizard(KIND), wizard(KIND, htmx=True)
    assert "<html" in plain.get("name").content.decode()
    page = frag.get("name").content.decode()
    assert "<html" not in page and 'id="wizard-frame"' in page
    response = frag.post("name", {"name": "tokens"})
    assert response.status_code == 200 and response["HX-Push-Url"] == frag.url("job")


def test_double_submit_creates_one_configuration(wizard, world):
    w = wizard(KIND)
    complete(w, world)
    first, second = w.post("review", {}), w.post("review", {})
    assert first["Location"] == second["Location"]
    assert Configuration.objects.filter(name="tokens").count() == 1


def test_stale_draft_goes_back_to_the_failing_step(wizard, world):
    w = wizard(KIND)
    complete(w, world)
    Configuration.objects.create(
        name="tokens", config_type=ConfigType.CUSTOM_CREDENTIALS, created_by="someone"
    )
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("name")
    page = text(w.get("name"))
    assert "check that step again" in page and "named 'tokens' already exists" in page


def test_a_revoked_authorization_sends_the_user_back_to_authorize(wizard, world):
    w = wizard(KIND)
    complete(w, world, fresh=True)
    ServiceAuthorization.objects.filter(target_resource=world["fresh"].pk).delete()
    response = w.post("review", {})
    assert response["Location"] == w.url("authorize")
    assert not Configuration.objects.filter(name="tokens").exists()


def test_a_service_error_at_finish_is_shown_on_review_with_422(wizard, world, monkeypatch):
    w = wizard(KIND)
    complete(w, world)

    def full(**kwargs):
        raise LimitExceededError("This instance already has 10 custom credentials configurations.")

    monkeypatch.setattr("engines_app.services.custom_configuration_create", full)
    response = w.post("review", {})
    assert response.status_code == 422 and "already has 10 custom credentials" in text(response)
    assert WizardDraft.objects.get(pk=w.draft_id).finished_at is None


# --- Permissions ------------------------------------------------------------------------------


def test_every_step_needs_the_manager_role(world, client):
    writer = create_user(username="writer")
    grant(writer, "Writer", group=world["group"])
    client.force_login(writer)
    assert client.post(reverse("wizard-start", args=[KIND])).status_code == 403
    # A draft of their own (started while they still were a Manager) does not open either.
    draft = WizardDraft.objects.create(owner=writer, kind=KIND)
    url = reverse("wizard-step", args=[KIND, draft.pk, "name"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "tokens"}).status_code == 403
    assert not Configuration.objects.filter(name="tokens").exists()


def test_someone_elses_draft_is_404(wizard, world, client):
    w = wizard(KIND)
    client.force_login(create_user(username="other", manage_groups=True))
    assert client.get(w.url("name")).status_code == 404
