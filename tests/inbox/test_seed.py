"""The demo seed gives the inbox, its chart and the history something real to show."""

from __future__ import annotations

import pytest

from secrets_app import seed
from secrets_app.models import Secret, SecretTask, TaskStatus
from secrets_app.services.retries import retry_pending
from tests.lifecycle.factories import ADMIN

pytestmark = pytest.mark.django_db


def test_seed_makes_versions_and_failures_of_two_codes_once(code_engine):
    seed.seed_embedded_cloud(actor=ADMIN)
    secret = Secret.objects.get(name=seed.INBOX_HISTORY)
    assert secret.versions.count() == 3
    failed = SecretTask.objects.filter(status=TaskStatus.FAILED, resolution="")
    assert sorted(t.errors[0]["code"] for t in failed) == ["ERR10002", "ERR10004", "ERR10004"]
    assert retry_pending(failed.get(errors__0__code="ERR10002"))
    before = SecretTask.objects.count()
    assert seed.seed_inbox_demo(actor=ADMIN) == 0
    assert SecretTask.objects.count() == before
