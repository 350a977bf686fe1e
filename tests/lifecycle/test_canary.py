"""Canary values: a secret value that went through reveal, rotate, edit and delete (and the
refusals on the way) is in no audit row, no task row, no log record and no exception text."""

from __future__ import annotations

import json
import logging
import secrets

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict

from console.errors import AccessDeniedError, NotFoundError
from console.models import AuditEvent
from secrets_app.models import SecretTask, TaskType
from secrets_app.services.deletion import secret_delete
from secrets_app.services.editing import secret_version_metadata_update
from secrets_app.services.reading import secret_reveal
from secrets_app.services.rotation import secret_rotate
from tests.factories import create_secret
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db


def rows_text() -> str:
    audit = [model_to_dict(e) for e in AuditEvent.objects.all()]
    task_rows = [model_to_dict(t) for t in SecretTask.objects.all()]
    assert audit, "the scan sees rows"
    return json.dumps([audit, task_rows], default=str)


def logs_text(caplog) -> str:
    return "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)


def assert_nowhere(canaries: list[str], caplog, *texts: str) -> None:
    stored, logged = rows_text(), logs_text(caplog)
    for canary in canaries:
        assert canary not in stored, "a value in an audit or task row"
        assert canary not in logged, "a value in a log record"
        for text in texts:
            assert canary not in text


def test_arbitrary_value_goes_nowhere(group, people, caplog):
    caplog.set_level(logging.DEBUG)
    first, second = (f"CANARY-{secrets.token_hex(12)}" for _ in range(2))
    writer, manager = people["Writer"], people["Manager"]
    # A control: the scan finds what is stored in a non-secret field (the audited name).
    control = f"control-{secrets.token_hex(8)}"
    secret = create_secret(group=group, name=control, payload=first)
    secret_version_metadata_update(
        principal=writer,
        secret_id=secret.pk,
        version="current",
        version_custom_metadata={"note": "not secret"},
    )
    rotation = secret_rotate(principal=writer, secret_id=secret.pk, payload=second)
    assert control in rows_text()
    revealed = secret_reveal(principal=writer, secret_id=secret.pk, reason="canary check")
    previous = secret_reveal(principal=writer, secret_id=secret.pk, version="previous")
    assert (revealed.payload, previous.payload) == (second, first)
    texts = [repr(revealed), repr(previous), repr(rotation), str(revealed.version)]

    # Refusals and mistakes on the way do not echo a value either.
    for attempt, error in [
        (lambda: secret_reveal(principal=people["Reader"], secret_id=secret.pk), AccessDeniedError),
        (
            lambda: secret_rotate(principal=writer, secret_id=secret.pk, payload=first * 50_000),
            ValidationError,
        ),
        (
            lambda: secret_rotate(principal=people["Reader"], secret_id=secret.pk, payload=first),
            AccessDeniedError,
        ),
    ]:
        with pytest.raises(error) as exc:
            attempt()
        texts.append(str(exc.value))
    for value in ("third", "fourth"):
        secret_rotate(principal=writer, secret_id=secret.pk, payload=value)
    with pytest.raises(NotFoundError) as gone:
        secret_reveal(principal=writer, secret_id=secret.pk, version=str(revealed.version.pk))
    texts.append(str(gone.value))
    secret_delete(principal=manager, secret_id=secret.pk)
    assert AuditEvent.objects.filter(action="secret.delete").exists()
    assert_nowhere([first, second], caplog, *texts)


def test_custom_credentials_value_goes_nowhere(group, people, custom_world, caplog):
    caplog.set_level(logging.DEBUG)
    writer, manager = people["Writer"], people["Manager"]
    canaries = [f"CANARY-{secrets.token_hex(12)}" for _ in range(3)]
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1", token=canaries[0])
    for n, canary in enumerate(canaries[1:], start=2):
        f.report_created(
            secret_rotate(principal=writer, secret_id=secret.pk).task,
            credentials_id=f"tok-{n}",
            token=canary,
        )
    assert secret_reveal(principal=writer, secret_id=secret.pk).payload == {"token": canaries[2]}
    # A report whose payload breaks the schema: the 400 does not quote it.
    task = secret_rotate(principal=writer, secret_id=secret.pk).task
    f.dispatch(task)
    with pytest.raises(ValidationError) as exc:
        f.report(
            task,
            {
                "status": "credentials_created",
                "credentials": {"id": "tok-x", "payload": {"token": 12345, "extra": canaries[0]}},
            },
        )
    secret_delete(principal=manager, secret_id=secret.pk, force=True)
    for delete in SecretTask.objects.filter(secret_id=secret.pk, type=TaskType.DELETE_CREDENTIALS):
        if not delete.is_terminal:
            f.report_deleted(delete)
    assert_nowhere(canaries, caplog, str(exc.value))


def test_iam_api_keys_go_nowhere(group, people, iam_engine, caplog):
    caplog.set_level(logging.DEBUG)
    secret = f.iam_secret(group=group, reuse=False)
    keys = [
        secret_reveal(principal=people["SecretsReader"], secret_id=secret.pk).payload["api_key"]
        for _ in range(3)
    ]
    secret_delete(principal=people["Manager"], secret_id=secret.pk)
    assert_nowhere(keys, caplog)
