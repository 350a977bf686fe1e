"""The third sample job, run for real: it reads its source secret through GET /api/v2/secrets/{id}
with its own token, and derives the secret's key from it. Its service ID needs SecretsReader on
the source's group; without it, the task fails with the job's ERR20001."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from ibm_secrets_manager_sdk.secrets_manager_v2 import (
    CustomCredentialsConfigurationCodeEngine,
    CustomCredentialsConfigurationPrototype,
)

from engines_app.providers.embedded.iam import services as iam
from secrets_app.models import Secret, SecretState, TaskStatus
from tests.api.conftest import SETUP
from tests.cloud_fixtures import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)

MASTER = "master-key-for-derivation-0123456789"


@pytest.fixture
def derived_keys(cloud, manager):
    """A configuration for the seeded derived-key-provider job, made through the API."""
    manager.create_configuration(
        CustomCredentialsConfigurationPrototype(
            name="derived-keys",
            config_type="custom_credentials_configuration",
            code_engine=CustomCredentialsConfigurationCodeEngine(
                job_name="derived-key-provider", project_id=cloud["project"].pk, region="us-south"
            ),
            api_key_ref=str(Secret.objects.get(name="credentials-provider-job-apikey").pk),
        )
    )
    return manager


def source_in_new_group(manager, name: str) -> tuple[str, str]:
    group = manager.create_secret_group(name=name).get_result()["id"]
    source = manager.create_secret(
        {
            "secret_type": "arbitrary",
            "name": f"{name}-master",
            "secret_group_id": group,
            "payload": MASTER,
        }
    ).get_result()["id"]
    return group, source


def derived_secret(manager, cloud, source_id: str, name: str) -> str:
    return manager.create_secret(
        {
            "secret_type": "custom_credentials",
            "name": name,
            "secret_group_id": cloud["group"].pk,
            "configuration": "derived-keys",
            "parameters": {"source_secret_id": source_id, "context": "payments"},
        }
    ).get_result()["id"]


def test_the_job_derives_its_key_from_a_secret_it_may_read(cloud, derived_keys, q_sync):
    manager = derived_keys
    group, source = source_in_new_group(manager, "provider-inputs")
    iam.policy_grant(
        actor=SETUP, role="SecretsReader", secret_group_id=group, service_id=cloud["job_service_id"]
    )
    secret_id = derived_secret(manager, cloud, source, "payments-key")
    task = wait_for_task(secret_id)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors

    secret = Secret.objects.get(pk=secret_id)
    assert secret.state == SecretState.ACTIVE
    credentials_id = secret.versions.get(alias="current").credentials_id
    assert credentials_id.startswith("derived-")
    expected = hmac.new(
        MASTER.encode(), f"payments:{secret_id}:{credentials_id}".encode(), hashlib.sha256
    ).hexdigest()
    got = manager.get_secret(id=secret_id).get_result()
    assert got["credentials_content"] == {"derived_key": expected}
    assert MASTER not in str(got)


def test_without_secrets_reader_the_task_fails_with_the_jobs_code(cloud, derived_keys, q_sync):
    manager = derived_keys
    _, source = source_in_new_group(manager, "locked-inputs")
    secret_id = derived_secret(manager, cloud, source, "no-access-key")
    task = wait_for_task(secret_id)
    assert task.status == TaskStatus.FAILED
    assert task.errors[0]["code"] == "ERR20001"
    assert "SecretsReader" in task.errors[0]["description"]
    assert MASTER not in str(task.errors)
