"""Fixtures of the secret pages' tests: a group with one signed-in client per role on it, and a
secret of each type in that group (made through the services, see tests/lifecycle/factories.py).

Custom credentials use a Code Engine that records job runs instead of starting them: the tests
play the job's side of the protocol themselves.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from engines_app.providers.embedded.iam.models import ServiceId
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from engines_app.providers.iam import get_iam
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup
from secrets_app.services import service_credentials as sc
from tests.factories import create_group, create_secret, create_user, grant
from tests.lifecycle import factories as f
from tests.lifecycle.fakes import RECORDER

ROLES = ("Reader", "SecretsReader", "Writer", "Manager")
CANARY = "CANARY-7f3c9a1e-lifecycle-pages"


@pytest.fixture
def group(db) -> SecretGroup:
    return create_group(name="pages")


@pytest.fixture
def clients(group) -> dict[str, Client]:
    """A signed-in client per role, each holding only that role, on `group` only; a stranger
    with no role at all; and the owner, Manager on the whole instance."""
    found: dict[str, Client] = {}
    for role in ROLES:
        user = create_user(username=f"pages-{role.lower()}")
        grant(user, role, group=group)
        found[role] = Client()
        found[role].force_login(user)
    for name, user in (
        ("stranger", create_user(username="pages-stranger")),
        ("owner", create_user(username="pages-owner", manage_groups=True)),
    ):
        found[name] = Client()
        found[name].force_login(user)
    return found


@pytest.fixture
def arbitrary(group) -> Secret:
    return create_secret(group=group, name="app-password", payload=CANARY)


@pytest.fixture
def iam_engine(db) -> Any:
    return seed.seed_iam_engine(actor=f.ADMIN)


@pytest.fixture
def iam(group, iam_engine) -> Secret:
    return f.iam_secret(group=group, reuse=True, name="deploy-key")


@pytest.fixture
def iam_reuse_off(group, iam_engine) -> Secret:
    return f.iam_secret(group=group, reuse=False, name="one-time-key")


@pytest.fixture
def service_instances(db) -> dict[str, ServiceInstance]:
    rc_services.seed_service_instances(actor=f.ADMIN)
    found = {i.name: i for i in ServiceInstance.objects.all()}
    sc.authorize_service_instance(actor=f.ADMIN, instance_crn=found["postgres-orders"].crn)
    return found


@pytest.fixture
def service(group, service_instances) -> Secret:
    return f.service_secret(
        group=group,
        instance_crn=service_instances["postgres-orders"].crn,
        name="orders-db",
        ttl="30d",
    )


@pytest.fixture
def custom_world(group, settings) -> dict[str, Any]:
    """The token-provider configuration, its job allowed to report on `group`'s tasks; job runs
    are recorded, not started."""
    settings.SM_PROVIDERS = {
        **getattr(settings, "SM_PROVIDERS", {}),
        "code_engine": "tests.lifecycle.fakes.RecordingCodeEngine",
    }
    RECORDER.clear()
    project = seed.seed_code_engine(actor=f.ADMIN)
    seed.seed_iam_engine(actor=f.ADMIN)
    key_secret = seed.seed_provider_access(actor=f.ADMIN)
    seed.seed_configurations(actor=f.ADMIN, project=project, api_key_secret=key_secret)
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    get_iam().grant(
        actor=f.ADMIN, role="SecretTaskUpdater", service_id=job.pk, secret_group_id=group.pk
    )
    yield {"key_secret": key_secret, "runs": RECORDER}
    RECORDER.clear()


@pytest.fixture
def custom(group, custom_world) -> Secret:
    """An active token-provider secret on version 1 (credentials tok-1)."""
    secret = f.custom_secret(
        group=group, name="partner-token", parameters={"user_name": "alice", "scope": "user"}
    )
    return f.activate(secret, credentials_id="tok-1", token="token-one")
