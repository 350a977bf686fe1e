"""Every step of every wizard, as served and after a rejected submit: fields are described by
their help and errors (ids that exist), invalid inputs say so, the error summary comes first and
links each invalid field, and one element takes the focus: the step heading, the summary on a
422, or the field an in-context action filled in."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest

from console.identity import Actor
from engines_app.models import Configuration
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from secrets_app import seed
from tests.wizards.conftest import WizardDriver
from tests.wizards.markup import parse, problems

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
OBJECT_WRITER = "crn:v1:bluemix:public:cloud-object-storage::::serviceRole:ObjectWriter"


@pytest.fixture
def everything() -> dict[str, Any]:
    """Enough of the embedded cloud for every wizard to reach its last step."""
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    groups = seed.seed_access_groups(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key)
    rc_services.seed_service_instances(actor=ADMIN)
    fresh = ce.project_create(actor=ADMIN, name="markup-project", region="eu-de")
    ce.job_create(
        actor=ADMIN,
        project=fresh,
        name="markup-job",
        command=["true"],
        env={
            "SMIN_USER_NAME": "type:string, required:true",
            "SMOUT_TOKEN": "type:string, required:true",
        },
    )
    return {
        "key": key,
        "developers": groups[0],
        "cos": ServiceInstance.objects.get(name="cos-backups"),
        "job": f"{fresh.pk}/markup-job",
    }


def details(name: str) -> dict[str, str]:
    return {"name": name, "secret_group": "default", "labels": "a11y"}


# (step, data that the step rejects, data that it accepts); None: nothing to reject, or (the
# last step) do not submit.
Steps = list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]
WIZARD_STEPS: dict[str, Callable[[dict[str, Any]], Steps]] = {
    "arbitrary": lambda w: [
        ("details", {"name": "-bad-"}, details("markup-arbitrary")),
        ("expiration", {"expiration_date": "2000-01-01T00:00"}, {}),
        ("review", {}, None),
    ],
    "iam_credentials": lambda w: [
        ("details", {}, details("markup-iam")),
        ("lease", {"auto_rotate": "on"}, {"ttl": "30d", "reuse_api_key": "on"}),
        ("source", {"source": "specific"}, {"source": "current"}),
        ("access", {}, {"access_groups": [w["developers"].pk]}),
        ("review", None, None),
    ],
    "service_credentials": lambda w: [
        ("details", {}, details("markup-service")),
        ("instance", {}, {"instance": w["cos"].crn}),
        ("authorize", {}, {"authorize": "Key Manager"}),
        (
            "credentials",
            {"serviceid_mode": "existing"},
            {"role": OBJECT_WRITER, "serviceid_mode": "generate", "hmac": "on"},
        ),
        ("lease", {"ttl": "1h", "auto_rotate": "on"}, {}),
        ("review", None, None),
    ],
    "custom_credentials": lambda w: [
        ("details", {}, details("markup-custom")),
        ("configuration", {}, {"configuration": "token-provider"}),
        ("parameters", {}, {"param_user_name": "alice"}),
        ("lease", {"ttl": "0", "auto_rotate": "on", "interval": "x"}, {}),
        ("review", None, None),
    ],
    "custom_configuration": lambda w: [
        ("name", {}, {"name": "markup-config"}),
        ("job", {"location": "other"}, {"region": "eu-de", "location": "this", "job": w["job"]}),
        ("authorize", {}, {"authorize": "Viewer and Writer"}),
        ("iam", {"task_timeout": "1s"}, {"api_key_ref": str(w["key"].pk), "task_timeout": "10m"}),
        ("review", None, None),
    ],
}


@pytest.mark.parametrize("kind", list(WIZARD_STEPS))
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_every_step_describes_its_fields_and_errors(wizard, everything, kind, htmx):
    Configuration.objects.filter(code_engine_job_name="markup-job").delete()
    w: WizardDriver = wizard(kind, htmx=htmx)
    for step, bad, good in WIZARD_STEPS[kind](everything):
        shown = w.get(step)
        assert shown.status_code == 200, (step, shown.status_code)
        page = shown.content.decode()
        assert problems(page) == [], (step, problems(page))
        focused = parse(page).autofocus
        assert [e.attrs.get("id") for e in focused] == ["step-heading"], step
        if bad is not None:
            rejected = w.post(step, bad)
            assert rejected.status_code == 422, (step, rejected.status_code)
            page = rejected.content.decode()
            assert problems(page) == [], (step, problems(page))
            markup = parse(page)
            assert markup.invalid or "<li>" in page, step  # a field error, or a step error
            # The summary is first in the form, before the heading, and takes the focus.
            assert page.index('id="error-summary"') < page.index('id="step-heading"'), step
            assert [e.attrs.get("id") for e in markup.autofocus] == ["error-summary"], step
        if good is not None:
            assert w.post(step, good).status_code in (200, 302), step


def test_the_lease_help_is_linked_while_an_error_shows(wizard, everything):
    w = wizard("iam_credentials")
    w.post("details", details("linked-help"))
    page = w.post("lease", {"ttl": "30s"}).content.decode()
    ttl = parse(page).by_id("id_ttl")
    assert ttl is not None and ttl.attrs["aria-invalid"] == "true"
    assert ttl.attrs["aria-describedby"] == "id_ttl_helptext id_ttl_error"
    assert re.search(r'<p class="help" id="id_ttl_helptext">Required: from 1 minute', page)
    assert '<div class="field-errors" id="id_ttl_error">' in page
    summary = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'href="#id_ttl"' in summary and "between 1 minute and 90 days" in summary


def test_checkboxes_reference_their_help(wizard, everything):
    """The HMAC box and the in-context "Reuse IAM credentials" box: their help has the id that
    the input's aria-describedby names."""
    w = wizard("service_credentials")
    w.post("details", details("hmac-help"))
    w.post("instance", {"instance": everything["cos"].crn})
    w.post("authorize", {"authorize": "Key Manager"})
    hmac = parse(w.get("credentials").content.decode()).by_id("id_hmac")
    assert hmac is not None and hmac.attrs["aria-describedby"] == "id_hmac_helptext"
    c = wizard("custom_configuration")
    c.post("name", {"name": "reuse-help"})
    c.post("job", {"region": "eu-de", "location": "this", "job": everything["job"]})
    c.post("authorize", {"authorize": "Viewer and Writer"})
    page = c.get("iam").content.decode()
    reuse = parse(page).by_id("id_newiam_reuse")
    assert reuse is not None and reuse.attrs["aria-describedby"] == "id_newiam_reuse_helptext"
    assert 'id="id_newiam_reuse_helptext"' in page


def test_after_create_group_the_new_group_has_the_focus(wizard, everything):
    for htmx in (False, True):
        w = wizard("arbitrary", htmx=htmx)
        response = w.post(
            "details",
            {**details("focus"), "wizard_action": "create-group", "newgroup_name": f"made-{htmx}"},
        )
        assert response.status_code == 200
        page = response.content.decode()
        markup = parse(page)
        assert [e.attrs.get("id") for e in markup.autofocus] == ["id_secret_group"]
        assert f"Secret group <strong>made-{htmx}</strong> is created and selected." in page
        notice = page.split('data-testid="group-created"', 1)[0].rsplit("<div", 1)[1]
        assert 'role="status"' in notice and "data-announce" in notice
        assert problems(page) == []


def test_a_dependent_select_swaps_only_what_depends_on_it(wizard, everything):
    w = wizard("service_credentials", htmx=True)
    w.post("details", details("dependent"))
    page = w.get("instance").content.decode()
    service = parse(page).by_id("id_service")
    assert service is not None
    assert service.attrs["hx-target"] == "#instance-choice"
    assert service.attrs["hx-select"] == "#instance-choice"
    # The service select posts; htmx names it in HX-Trigger. The answer keeps the focus on it
    # (nothing else autofocuses) and announces the narrowed list in the swapped part.
    response = w.client.post(
        w.url("instance"),
        {"service": "cloud-object-storage", "wizard_action": "pick-service"},
        headers={"HX-Request": "true", "HX-Trigger": "id_service"},
    )
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    markup = parse(page)
    assert [e.attrs.get("id") for e in markup.autofocus] == ["id_service"]
    part = page.split('<div id="instance-choice"', 1)[1].split("</select>", 1)[0]
    count = ServiceInstance.objects.filter(service="cloud-object-storage").count()
    assert (
        f'data-announce="Service instance list updated: {count} instance{"s" if count != 1 else ""}'
        ' of Cloud Object Storage."' in part
    )
    assert "cos-backups" in part and "redis-sessions" not in part
    # Without JavaScript, "Show its instances" reloads the page with the focus on the list.
    full = WizardDriver(w.client, "service_credentials")
    full.post("details", details("dependent-nojs"))
    reloaded = full.post(
        "instance", {"service": "cloud-object-storage", "wizard_action": "pick-service"}
    )
    assert [e.attrs.get("id") for e in parse(reloaded.content.decode()).autofocus] == [
        "id_instance"
    ]


def test_the_reuse_toggle_swaps_only_the_rotation_fieldset(wizard, everything):
    w = wizard("iam_credentials", htmx=True)
    w.post("details", details("toggle"))
    page = w.get("lease").content.decode()
    toggle = parse(page).by_id("id_reuse_api_key")
    assert toggle is not None and toggle.attrs["role"] == "switch"
    assert toggle.attrs["hx-target"] == "#rotation" and toggle.attrs["hx-select"] == "#rotation"
    # Off: the whole fieldset is disabled, interval and unit with it, and says why.
    fieldset = page.split('<fieldset class="choice" id="rotation"', 1)[1].split("</fieldset>")[0]
    assert fieldset.startswith(' disabled aria-describedby="rotation-reason"')
    assert 'id="id_interval"' in fieldset and 'id="id_unit"' in fieldset
    assert 'id="rotation-reason"' in fieldset
    on = w.client.post(
        w.url("lease"),
        {"ttl": "30d", "reuse_api_key": "on", "wizard_action": "refresh"},
        headers={"HX-Request": "true", "HX-Trigger": "id_reuse_api_key"},
    ).content.decode()
    assert (
        '<fieldset class="choice" id="rotation" data-announce="Automatic rotation can now be set.">'
        in on
    )
    assert [e.attrs.get("id") for e in parse(on).autofocus] == ["id_reuse_api_key"]
