"""Fixtures of the lifecycle tests: a clock that only moves when a test moves it, personas with
one role each on a group, and the worlds each secret type needs (the IAM engine, authorized
service instances, the custom credentials configurations with a Code Engine that records runs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from engines_app.providers.embedded.iam.models import ServiceId
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from engines_app.providers.iam import Principal, get_iam
from secrets_app import seed
from secrets_app.models import SecretGroup
from secrets_app.services import service_credentials as sc
from tests.factories import create_group, create_user, grant
from tests.lifecycle.factories import ADMIN
from tests.lifecycle.fakes import RECORDER

# A Monday morning far from any daylight-saving change; every test starts here.
T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    """time-machine's traveller, stopped (tick=False): time moves only when a test moves it."""

    traveller: Any

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def advance(self, **delta: float) -> datetime:
        self.traveller.shift(timedelta(**delta))
        return self.now

    def to(self, when: datetime) -> datetime:
        self.traveller.move_to(when, tick=False)
        return self.now


@pytest.fixture(autouse=True)
def clock(time_machine) -> Clock:
    """Every lifecycle test runs on this clock, from its first fixture on."""
    time_machine.move_to(T0, tick=False)
    return Clock(time_machine)


def principal(user: User) -> Principal:
    return get_iam().principal_for_user(user)


@pytest.fixture
def group(db) -> SecretGroup:
    return create_group(name="lifecycle")


ROLES = ("Reader", "SecretsReader", "Writer", "Manager")


@pytest.fixture
def people(group) -> dict[str, Principal]:
    """One user per role, each holding only that role, on `group` only; and one without any."""
    found: dict[str, Principal] = {}
    for role in ROLES:
        user = create_user(username=f"lc-{role.lower()}")
        grant(user, role, group=group)
        found[role] = principal(user)
    found["nobody"] = principal(create_user(username="lc-nobody"))
    return found


@pytest.fixture
def writer(people) -> Principal:
    return people["Writer"]


@pytest.fixture
def manager(people) -> Principal:
    return people["Manager"]


@pytest.fixture
def iam_engine(db) -> Any:
    return seed.seed_iam_engine(actor=ADMIN)


@pytest.fixture
def instances(db) -> dict[str, ServiceInstance]:
    """The seeded service instances, Secrets Manager authorized (Key Manager) on them."""
    rc_services.seed_service_instances(actor=ADMIN)
    found = {i.name: i for i in ServiceInstance.objects.all()}
    sc.authorize_service_instance(actor=ADMIN, instance_crn=found["postgres-orders"].crn)
    return found


@pytest.fixture
def code_engine(settings) -> Any:
    """Job runs are recorded, not started: the test plays the job (tests/lifecycle/fakes.py)."""
    settings.SM_PROVIDERS = {
        **getattr(settings, "SM_PROVIDERS", {}),
        "code_engine": "tests.lifecycle.fakes.RecordingCodeEngine",
    }
    RECORDER.clear()
    yield RECORDER
    RECORDER.clear()


@pytest.fixture
def custom_world(db, group, code_engine) -> dict[str, Any]:
    """The token-provider configuration, its job allowed to report on `group`'s tasks."""
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key_secret = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key_secret)
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    get_iam().grant(
        actor=ADMIN, role="SecretTaskUpdater", service_id=job.pk, secret_group_id=group.pk
    )
    return {"project": project, "key_secret": key_secret, "job": job, "runs": code_engine}
