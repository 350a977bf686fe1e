"""Every wizard step, and every in-context action that writes, as data for the bad-input tests.

Each wizard is its steps in order, each with a submission that the step accepts; a case reaches
its step by posting the steps before it (`reach`). Actions that only show the step again with
what was typed (Refresh, Show schema, Pick service) keep it in the draft by design and are
checked in test_console_transport.py instead; the actions that create something are cases here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from engines_app.providers.embedded.iam.models import AccessGroup, ServiceAuthorization
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from secrets_app import seed
from secrets_app.models import Secret, SecretType
from tests.badinput.conftest import World
from tests.badinput.forms_table import (
    CHOICE,
    DATE,
    DURATION,
    FLAG,
    HIDDEN,
    IDENTIFIER,
    JSON,
    NUMBER,
    SECRET,
    TEXT,
)
from tests.wizards.conftest import WizardDriver

Data = Callable[[World], dict[str, Any]]
WRITER = "crn:v1:bluemix:public:iam::::serviceRole:Writer"


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    step: str
    valid: Data
    fields: Mapping[str, str]
    marks: Mapping[str, str] = field(default_factory=dict)
    accepted: tuple[int, ...] = (200, 302)
    url_name: str = "wizard-step"
    action: str = ""  # the in-context action its valid submission runs, if any


def _details(name: str) -> Data:
    def data(w: World) -> dict[str, Any]:
        return {
            "name": name,
            "description": "made by a test",
            "secret_group": w.group.pk,
            "labels": "team-a, us-south",
            "custom_metadata": '{"owner": "team-a"}',
            "version_custom_metadata": '{"reason": "initial"}',
        }

    return data


DETAILS_FIELDS = {
    "name": IDENTIFIER,
    "description": TEXT,
    "secret_group": CHOICE,
    "labels": TEXT,
    "custom_metadata": JSON,
    "version_custom_metadata": JSON,
    # Only Create (the create-group cases) uses these; Next leaves them out of the draft.
    "newgroup_name": HIDDEN,
    "newgroup_description": HIDDEN,
}
CREATE_GROUP_FIELDS = {"newgroup_name": IDENTIFIER, "newgroup_description": TEXT}


def _create_group(name: str) -> Data:
    def data(w: World) -> dict[str, Any]:
        return {
            **_details(name)(w),
            "wizard_action": "create-group",
            "newgroup_name": "made-in-context",
            "newgroup_description": "a group made from the wizard",
        }

    return data


def _instance(w: World) -> ServiceInstance:
    """A PostgreSQL instance that Secrets Manager is not yet authorized for (the Authorize step)."""
    authorized = ServiceAuthorization.objects.values_list("target_resource", flat=True)
    return ServiceInstance.objects.exclude(crn__in=list(authorized)).get(name="postgres-orders")


def _lease(**extra: str) -> Data:
    return lambda w: {"ttl": "30d", "auto_rotate": "on", "interval": "7", "unit": "day", **extra}


LEASE_FIELDS = {"ttl": DURATION, "auto_rotate": FLAG, "interval": NUMBER, "unit": CHOICE}


def _access_groups() -> list[str]:
    return list(AccessGroup.objects.filter(name="developers").values_list("pk", flat=True))


def _key_secret(w: World) -> str:
    return str(
        Secret.objects.get(secret_type=SecretType.IAM_CREDENTIALS, name=seed.JOB_KEY_SECRET).pk
    )


# The actions that show the step again with what was typed, keeping it in the draft (nothing is
# validated until Next): test_console_actions.py checks them.
SHOW_AGAIN = {
    ("iam_credentials", "lease", "refresh"): lambda w: _lease(reuse_api_key="on")(w),
    ("service_credentials", "instance", "pick-service"): lambda w: {
        "service": "databases-for-postgresql"
    },
    ("custom_configuration", "job", "show-schema"): lambda w: {
        "region": "us-south",
        "location": "this",
        "job": f"{w.project.pk}/{w.job.name}",
    },
}

# Each wizard: its steps in order, as (step, the submission it accepts).
WIZARDS: dict[str, list[tuple[str, Data]]] = {
    "arbitrary": [
        ("details", _details("new-arbitrary")),
        ("expiration", lambda w: {"expiration_date": "2039-01-01T00:00"}),
        ("review", lambda w: {"payload": "the-value"}),
    ],
    "custom_credentials": [
        ("details", _details("new-custom")),
        ("configuration", lambda w: {"configuration": "token-provider"}),
        (
            "parameters",
            lambda w: {"param_user_name": "alice", "param_scope": "user", "param_expires": "600"},
        ),
        ("lease", _lease()),
        ("review", lambda w: {}),
    ],
    "iam_credentials": [
        ("details", _details("new-iam")),
        ("lease", _lease(reuse_api_key="on")),
        ("source", lambda w: {"source": "specific", "account_id": settings.SM_ACCOUNT_ID}),
        ("access", lambda w: {"service_id_other": w.service_id.pk}),
        ("review", lambda w: {}),
    ],
    "service_credentials": [
        ("details", _details("new-service")),
        ("instance", lambda w: {"instance": _instance(w).crn}),
        ("authorize", lambda w: {"authorize": "Key Manager"}),
        (
            "credentials",
            lambda w: {
                "role": WRITER,
                "serviceid_mode": "existing",
                "serviceid_crn": w.service_id.crn,
            },
        ),
        ("lease", lambda w: {"ttl": "30d"}),
        ("review", lambda w: {}),
    ],
    "custom_configuration": [
        ("name", lambda w: {"name": "new-configuration"}),
        (
            "job",
            lambda w: {
                "region": "us-south",
                "location": "this",
                "job": f"{w.project.pk}/{w.job.name}",
            },
        ),
        ("authorize", lambda w: {"authorize": "Viewer and Writer"}),
        ("iam", lambda w: {"api_key_ref": _key_secret(w), "task_timeout": "15m"}),
        ("review", lambda w: {}),
    ],
}


def _job_other(w: World) -> dict[str, Any]:
    return {
        "region": "us-south",
        "location": "other",
        "other_project_id": w.project.pk,
        "other_job_name": w.job.name,
    }


def _new_iam_secret(w: World) -> dict[str, Any]:
    return {
        "task_timeout": "15m",
        "wizard_action": "create-iam-secret",
        "newiam_name": "made-in-context",
        "newiam_group": w.group.pk,
        "newiam_service_id": w.service_id.pk,
        "newiam_ttl": "30d",
        "newiam_reuse": "on",
        "newiam_interval": "7",
        "newiam_unit": "day",
    }


STEPS: tuple[Step, ...] = (
    # Add secret → Arbitrary
    Step("arbitrary-details", "arbitrary", "details", _details("new-arbitrary"), DETAILS_FIELDS),
    Step(
        "arbitrary-create-group",
        "arbitrary",
        "details",
        _create_group("new-arbitrary"),
        CREATE_GROUP_FIELDS,
        action="create-group",
    ),
    Step(
        "arbitrary-expiration",
        "arbitrary",
        "expiration",
        lambda w: {"expiration_date": "2039-01-01T00:00"},
        {"expiration_date": DATE},
    ),
    Step(
        "arbitrary-review",
        "arbitrary",
        "review",
        lambda w: {"payload": "the-value"},
        {"payload": SECRET},
    ),
    # Add secret → Custom credentials
    Step("custom-details", "custom_credentials", "details", _details("new-custom"), DETAILS_FIELDS),
    Step(
        "custom-create-group",
        "custom_credentials",
        "details",
        _create_group("new-custom"),
        CREATE_GROUP_FIELDS,
        action="create-group",
    ),
    Step(
        "custom-configuration",
        "custom_credentials",
        "configuration",
        lambda w: {"configuration": "token-provider"},
        {"configuration": CHOICE},
    ),
    Step(
        "custom-parameters",
        "custom_credentials",
        "parameters",
        lambda w: {"param_user_name": "alice", "param_scope": "user", "param_expires": "600"},
        {"param_user_name": TEXT, "param_scope": CHOICE, "param_expires": NUMBER},
    ),
    Step("custom-lease", "custom_credentials", "lease", _lease(), LEASE_FIELDS),
    Step("custom-review", "custom_credentials", "review", lambda w: {}, {}),
    # Add secret → IAM credentials
    Step("iam-details", "iam_credentials", "details", _details("new-iam"), DETAILS_FIELDS),
    Step(
        "iam-create-group",
        "iam_credentials",
        "details",
        _create_group("new-iam"),
        CREATE_GROUP_FIELDS,
        action="create-group",
    ),
    Step(
        "iam-lease",
        "iam_credentials",
        "lease",
        _lease(reuse_api_key="on"),
        {**LEASE_FIELDS, "reuse_api_key": FLAG},
    ),
    Step(
        "iam-source",
        "iam_credentials",
        "source",
        lambda w: {"source": "specific", "account_id": settings.SM_ACCOUNT_ID},
        {"source": CHOICE, "account_id": IDENTIFIER},
    ),
    Step(
        "iam-access-service-id",
        "iam_credentials",
        "access",
        lambda w: {"service_id": w.service_id.pk},
        {"service_id": CHOICE},
    ),
    Step(
        "iam-access-typed-service-id",
        "iam_credentials",
        "access",
        lambda w: {"service_id_other": w.service_id.pk},
        {"service_id_other": IDENTIFIER},
    ),
    Step(
        "iam-access-groups",
        "iam_credentials",
        "access",
        lambda w: {"access_groups": _access_groups()},
        {"access_groups": CHOICE},
    ),
    Step("iam-review", "iam_credentials", "review", lambda w: {}, {}),
    # Add secret → Service credentials
    Step(
        "service-details", "service_credentials", "details", _details("new-service"), DETAILS_FIELDS
    ),
    Step(
        "service-create-group",
        "service_credentials",
        "details",
        _create_group("new-service"),
        CREATE_GROUP_FIELDS,
        action="create-group",
    ),
    Step(
        "service-instance",
        "service_credentials",
        "instance",
        lambda w: {"instance": _instance(w).crn},
        {"instance": CHOICE, "service": CHOICE},
    ),
    Step(
        "service-instance-crn",
        "service_credentials",
        "instance",
        lambda w: {"crn": _instance(w).crn},
        {"crn": IDENTIFIER},
    ),
    Step(
        "service-authorize",
        "service_credentials",
        "authorize",
        lambda w: {"authorize": "Key Manager"},
        {"authorize": CHOICE},
    ),
    Step(
        "service-credentials",
        "service_credentials",
        "credentials",
        WIZARDS["service_credentials"][3][1],
        {"role": CHOICE, "serviceid_mode": CHOICE, "serviceid_crn": IDENTIFIER, "hmac": FLAG},
    ),
    Step("service-lease", "service_credentials", "lease", _lease(), LEASE_FIELDS),
    Step("service-review", "service_credentials", "review", lambda w: {}, {}),
    # Secrets engines → Add configuration
    Step(
        "configuration-name",
        "custom_configuration",
        "name",
        lambda w: {"name": "new-configuration"},
        {"name": IDENTIFIER},
    ),
    Step(
        "configuration-job",
        "custom_configuration",
        "job",
        WIZARDS["custom_configuration"][1][1],
        {"region": CHOICE, "location": CHOICE, "job": CHOICE},
    ),
    Step(
        "configuration-job-other-account",
        "custom_configuration",
        "job",
        _job_other,
        {"other_project_id": IDENTIFIER, "other_job_name": IDENTIFIER},
    ),
    Step(
        "configuration-authorize",
        "custom_configuration",
        "authorize",
        lambda w: {"authorize": "Viewer and Writer"},
        {"authorize": HIDDEN},
    ),
    Step(
        "configuration-iam",
        "custom_configuration",
        "iam",
        lambda w: {"api_key_ref": _key_secret(w), "task_timeout": "15m"},
        {"api_key_ref": CHOICE, "task_timeout": DURATION},
    ),
    Step(
        "configuration-create-iam-secret",
        "custom_configuration",
        "iam",
        _new_iam_secret,
        {
            "newiam_name": IDENTIFIER,
            "newiam_group": CHOICE,
            "newiam_service_id": CHOICE,
            "newiam_ttl": DURATION,
            "newiam_reuse": FLAG,
            "newiam_interval": NUMBER,
            "newiam_unit": CHOICE,
        },
        action="create-iam-secret",
    ),
    Step("configuration-review", "custom_configuration", "review", lambda w: {}, {}),
)


def reach(world: World, case: Step) -> str:
    """Start the case's wizard and complete the steps before its own; return the step's URL."""
    driver = WizardDriver(world.client, case.kind)
    for name, data in WIZARDS[case.kind]:
        if name == case.step:
            return driver.url(name)
        response = driver.post(name, data(world))
        assert response.status_code == 302, (case.id, name, response.status_code)
    raise AssertionError(f"{case.kind} has no step {case.step}")
