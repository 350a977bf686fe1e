"""Custom credentials configurations: creation rules, schema derivation, deletion."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from console.errors import ConflictError, ServiceError
from console.identity import Actor
from engines_app import services as engine_services
from engines_app.models import Configuration
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job
from secrets_app import seed
from secrets_app.models import Secret, SecretState, SecretTask
from secrets_app.services.custom_credentials import custom_credentials_secret_create

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    return {"project": project, "key": key}


def create(world, **overrides):
    args = {
        "actor": ADMIN,
        "name": "certs",
        "region": "us-south",
        "project_id": world["project"].pk,
        "job_name": "certificate-provider",
        "api_key_ref": str(world["key"].pk),
        "task_timeout": "15m",
    }
    return engine_services.custom_configuration_create(**{**args, **overrides})


def test_create_derives_the_schema_and_injects_job_settings(world):
    config = create(world)
    assert config.task_timeout == "15m" and config.task_timeout_seconds == 900
    assert [p["name"] for p in config.schema["parameters"]] == [
        "common_name",
        "expiration_days",
        "key_algo",
    ]
    assert config.code_engine_key_ref.startswith("sm-access-")
    job = Job.objects.get(name="certificate-provider")
    assert job.env["SM_ACCESS_APIKEY_REF"] == config.code_engine_key_ref
    assert job.env["CE_REMOVE_COMPLETED_JOBS"] == "1d", "the job's own retention is kept"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "-bad"}, "name", "is not allowed"),
        ({"task_timeout": "2m"}, "task_timeout", "between 5 minutes and 24 hours"),
        ({"job_name": "missing-job"}, "job_name", "has no job named 'missing-job'"),
        ({"region": "eu-de"}, "region", "is in us-south, not eu-de"),
        (
            {"api_key_ref": "d898bb90-82f6-4d61-b5cc-b079b66cfa76"},
            "api_key_ref",
            "no IAM credentials secret",
        ),
    ],
)
def test_create_errors(world, overrides, field, message):
    with pytest.raises(ValidationError) as exc:
        create(world, **overrides)
    assert any(message in m for m in exc.value.message_dict[field]), exc.value.message_dict
    assert not Configuration.objects.filter(name="certs").exists()


def test_invalid_job_declarations_are_rejected_naming_the_variable(world):
    ce.job_create(
        actor=ADMIN,
        project=world["project"],
        name="broken",
        command=["true"],
        env={"SMIN_X": "type:float", "SMOUT_Y": "type:string, required:true"},
    )
    with pytest.raises(ValidationError) as exc:
        create(world, name="broken", job_name="broken")
    assert "SMIN_X: unknown type 'float'" in exc.value.message_dict["job_name"][0]


def test_missing_code_engine_authorization_is_refused(world):
    from engines_app.providers.embedded.iam.models import ServiceAuthorization

    ServiceAuthorization.objects.all().delete()
    with pytest.raises(ServiceError, match="not authorized"):
        create(world)


def test_one_configuration_per_job(world):
    create(world)
    with pytest.raises(ValidationError, match="already backs configuration certs"):
        create(world, name="certs-again")


def test_delete_only_when_unused(world, django_capture_on_commit_callbacks):
    config = create(world)
    group = world["key"].secret_group
    custom_credentials_secret_create(
        actor=ADMIN,
        name="uses-it",
        configuration="certs",
        parameters={"common_name": "a"},
        secret_group_id=group.pk,
    )
    with pytest.raises(ConflictError, match="used by 1 secret"):
        engine_services.configuration_delete(actor=ADMIN, name="certs")
    Secret.objects.filter(name="uses-it").delete()
    engine_services.configuration_delete(actor=ADMIN, name=config.name)
    assert not Configuration.objects.filter(name="certs").exists()


def test_custom_secret_starts_pre_activation_with_a_queued_task_enqueued_on_commit(
    world, django_capture_on_commit_callbacks
):
    create(world)
    with django_capture_on_commit_callbacks() as callbacks:
        secret = custom_credentials_secret_create(
            actor=ADMIN,
            name="queued",
            configuration="certs",
            parameters={"common_name": "a.example"},
            secret_group_id="default",
        )
    assert secret.state == SecretState.PRE_ACTIVATION
    task = SecretTask.objects.get(secret=secret)
    assert (task.type, task.trigger, task.status) == (
        "create_credentials",
        "secret_creation",
        "queued",
    )
    assert task.pk.startswith("sm-task-") and len(task.pk) == 44
    assert len(callbacks) == 1, "the task is enqueued once the secret is committed"


def test_custom_secret_rejects_bad_parameters_and_writes_nothing(world):
    create(world)
    with pytest.raises(ValidationError) as exc:
        custom_credentials_secret_create(
            actor=ADMIN,
            name="bad",
            configuration="certs",
            parameters={"key_algo": "DSA"},
            ttl="1h",
            rotation={"auto_rotate": True, "interval": 1, "unit": "hour"},
        )
    errors = exc.value.message_dict
    assert "common_name is required." in errors["parameters"]
    assert any("key_algo must be one of RSA, ECDSA" in m for m in errors["parameters"])
    assert "between 1 day and 90 days" in errors["ttl"][0]
    assert not Secret.objects.filter(name="bad").exists() and not SecretTask.objects.exists()
