"""Issue 9 §2, with the Django client: what the service credentials Review and Authorize steps
say, one vocabulary for leases, and a confirmation after each add-secret wizard."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.urls import reverse

from console import validation
from console.identity import Actor
from console.wizards import Draft
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceAuthorization
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from secrets_app import seed
from secrets_app.models import Secret
from secrets_app.wizards import WIZARDS
from secrets_app.wizards.common import TTL_FORMAT
from tests.wizards.conftest import WizardDriver

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
OBJECT_WRITER = "crn:v1:bluemix:public:cloud-object-storage::::serviceRole:ObjectWriter"
WRITER = "crn:v1:bluemix:public:iam::::serviceRole:Writer"


@pytest.fixture
def instances() -> dict[str, ServiceInstance]:
    rc_services.seed_service_instances(actor=ADMIN)
    return {i.name: i for i in ServiceInstance.objects.all()}


def text(response) -> str:
    return html.unescape(response.content.decode())


def details(name: str) -> dict[str, str]:
    return {"name": name, "secret_group": "default"}


def review_of(w: WizardDriver, instance: ServiceInstance, credentials: dict[str, Any]) -> str:
    assert w.post("details", details(f"review-{len(credentials)}")).status_code == 302
    assert w.post("instance", {"instance": instance.crn}).status_code == 302
    if not ServiceAuthorization.objects.filter(target_resource=instance.crn).exists():
        assert w.post("authorize", {"authorize": "Key Manager"}).status_code == 302
    assert w.post("credentials", {"serviceid_mode": "generate", **credentials}).status_code == 302
    assert w.post("lease", {}).status_code == 302
    return text(w.get("review"))


def summary_row(page: str, label: str) -> str | None:
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd>([^<]*)</dd>", page)
    return match.group(1) if match else None


def api_body(page: str) -> dict[str, Any]:
    return json.loads(page.split("POST /api/v2/secrets\n", 1)[1].split("</code>", 1)[0])


# ---------------------------------------------------------------------------------------------
# Service credentials: Review


def test_review_says_no_hmac_when_the_box_was_left_unchecked(wizard, instances):
    cos = instances["cos-backups"]
    page = review_of(wizard("service_credentials"), cos, {"role": OBJECT_WRITER})
    assert summary_row(page, "HMAC credentials") == "no"
    assert "Include HMAC keys" not in page
    # The request the wizard stands for sends no empty parameters object.
    assert api_body(page)["source_service"] == {
        "instance": {"crn": cos.crn},
        "role": {"crn": OBJECT_WRITER},
    }


def test_review_says_yes_when_hmac_was_chosen(wizard, instances):
    cos = instances["cos-backups"]
    page = review_of(wizard("service_credentials"), cos, {"role": OBJECT_WRITER, "hmac": "on"})
    assert summary_row(page, "HMAC credentials") == "yes"
    assert api_body(page)["source_service"]["parameters"] == {"HMAC": True}


def test_review_has_no_hmac_row_for_a_service_without_hmac(wizard, instances):
    sid = iam.service_id_create(actor=ADMIN, name="orders-app", description="")
    postgres = instances["postgres-orders"]
    page = review_of(
        wizard("service_credentials"),
        postgres,
        {"role": WRITER, "serviceid_mode": "existing", "serviceid": sid.crn},
    )
    assert summary_row(page, "HMAC credentials") is None
    # An existing service ID is a parameter: then the parameters object is sent.
    assert api_body(page)["source_service"]["parameters"] == {"serviceid_crn": sid.crn}


# ---------------------------------------------------------------------------------------------
# Service credentials: Authorize


def test_authorize_offers_key_manager_as_a_preselected_choice(wizard, instances):
    cos = instances["cos-backups"]
    w = wizard("service_credentials")
    w.post("details", details("authorize-choice"))
    w.post("instance", {"instance": cos.crn})
    page = text(w.get("authorize"))
    fieldset = page.split('<fieldset class="choice" id="id_authorize"', 1)[1].split("</fieldset>")[
        0
    ]
    assert "<legend>Role to grant</legend>" in fieldset
    radios = re.findall(r'<input type="radio" name="authorize" value="([^"]+)"[^>]*>', fieldset)
    assert radios == ["Key Manager"]
    assert re.search(r'<input type="radio" name="authorize" value="Key Manager"[^>]*checked', page)
    assert 'aria-describedby="id_authorize_helptext"' in fieldset
    assert '<button type="submit" class="primary">Authorize</button>' in page
    # Another role is not offered, and none at all is not a grant.
    for data in ({"authorize": "Writer"}, {}):
        refused = w.post("authorize", data)
        assert refused.status_code == 422, data
        assert not ServiceAuthorization.objects.exists()
    assert "select Key Manager and click Authorize" in text(w.post("authorize", {}))
    done = w.post("authorize", {"authorize": "Key Manager"})
    assert done.status_code == 302 and done["Location"] == w.url("credentials")
    assert ServiceAuthorization.objects.get().roles == ["Key Manager"]


# ---------------------------------------------------------------------------------------------
# Leases: one vocabulary, the docs' ranges


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("iam_credentials", "Required: from 1 minute to 90 days."),
        ("service_credentials", "Optional: from 1 day to 90 days."),
        ("custom_credentials", "Optional: from 1 day to 90 days."),
    ],
)
def test_every_lease_step_uses_the_same_words(kind, expected, wizard, instances):
    step = WIZARDS[kind].get("lease")
    assert step is not None
    row = wizard(kind).draft
    form = step.form_class(draft=Draft(row), user=row.owner)
    help_text = str(form.fields["ttl"].help_text)
    assert help_text.startswith(expected) and TTL_FORMAT in help_text
    assert "do not expire" in help_text or kind == "iam_credentials"
    assert "never expires" not in help_text and "=" not in help_text
    rotation = str(form.fields["interval"].help_text)
    minimum = validation.human_duration(validation.ROTATION_RANGES[kind][0])
    assert rotation.startswith(f"The interval is from {minimum} to 3 months")


@pytest.mark.parametrize(
    ("secret_type", "expected"),
    [
        ("custom_credentials", "leave it empty for credentials that do not expire"),
        ("iam_credentials", "always needs a lease, so 0 is not allowed"),
    ],
)
def test_a_zero_lease_is_explained_not_measured(secret_type, expected):
    with pytest.raises(validation.ValidationError) as exc:
        validation.parse_ttl("0", secret_type=secret_type)
    message = exc.value.message_dict["ttl"][0]
    assert expected in message and "0 seconds" not in message
    assert exc.value.error_dict["ttl"][0].code == "invalid"  # the API's error code is unchanged
    assert validation.parse_ttl("0", secret_type="service_credentials") is None


# ---------------------------------------------------------------------------------------------
# A confirmation once a secret is added


def test_each_add_secret_wizard_confirms_what_it_added(wizard, instances, owner_client):
    seed.seed_iam_engine(actor=ADMIN)
    groups = seed.seed_access_groups(actor=ADMIN)
    arbitrary = wizard("arbitrary")
    arbitrary.post("details", details("confirm-arbitrary"))
    arbitrary.post("expiration", {})
    done = arbitrary.post("review", {"payload": "s3cret-value"})
    page = text(owner_client.get(done["Location"]))
    assert "Arbitrary secret confirm-arbitrary is added." in page
    assert "s3cret-value" not in page

    key = wizard("iam_credentials")
    key.post("details", details("confirm-iam"))
    key.post("lease", {"ttl": "1d"})
    key.post("source", {"source": "current"})
    key.post("access", {"access_groups": [groups[0].pk]})
    page = text(owner_client.get(key.post("review", {})["Location"]))
    assert "IAM credentials secret confirm-iam is added" in page

    service = wizard("service_credentials")
    review_of(service, instances["cos-backups"], {"role": OBJECT_WRITER})
    page = text(owner_client.get(service.post("review", {})["Location"]))
    assert "Service credentials secret review-1 is added, with the resource key review-1" in page
    project = seed.seed_code_engine(actor=ADMIN)
    access = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=access)
    custom = wizard("custom_credentials")
    custom.post("details", details("confirm-custom"))
    custom.post("configuration", {"configuration": "token-provider"})
    custom.post("parameters", {"param_user_name": "alice"})
    custom.post("lease", {})
    page = text(owner_client.get(custom.post("review", {})["Location"]))
    assert "Custom credentials secret confirm-custom is added." in page
    assert "stays in Pre-activation" in page
    names = ["confirm-arbitrary", "confirm-iam", "review-1", "confirm-custom"]
    assert Secret.objects.filter(name__in=names).count() == 4
    # Shown once: the next page has no confirmation left.
    assert "is added" not in text(owner_client.get(reverse("secrets:list")))
